"""Reading customer lists: sources (path, ``file://``, ``s3://``), encodings, CSV and NDJSON records.

The readers stream: they yield one :class:`~renraku.importing.records.SourceRecord` at a time and
hold no more than one record (plus I/O buffers) in memory, however large the file.
"""
