# The seed deck's custom-channel function (Python 3.9 sample), as published.
# Only the imports, which the slide leaves out, are added; run by renraku's functions runtime,
# boto3's connect client reaches renraku through AWS_ENDPOINT_URL_CONNECT.
import os

import boto3

connect = boto3.client('connect')
def lambda_handler(event, context):
    for key in event['Endpoints'].keys():
        connectResponse = connect.start_outbound_voice_contact(
            InstanceId = os.environ['INSTANCE_ID'],
            QueueId = os.environ['QUEUE_ID'],
            ContactFlowId = os.environ['CONTACT_FLOW_ID'],
            DestinationPhoneNumber = event['Endpoints'][key]['Address'],
            Attributes = {
                "UserId": event['Endpoints'][key]['User']['UserId'],
            }
        )
