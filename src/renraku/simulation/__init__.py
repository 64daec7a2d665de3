"""Running a journey on the virtual clock with simulated people: the demo and ``renraku simulate``."""
