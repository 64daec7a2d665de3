# The seed deck's status-update function (Python 3.9 sample), as published: invoked from the
# contact flow when the customer presses 1, it cancels the user's SMS endpoint.
# The slide shows only the body (marked "...略"); the imports and the handler line around it are
# added. As on the slide it reads and writes Attributes.Status (the deck's second table names the
# column Status; its CSV calls it CallStatus). boto3's pinpoint client reaches renraku through
# AWS_ENDPOINT_URL_PINPOINT.
import os

import boto3


def lambda_handler(event, context):
    # 初期化
    client = boto3.client('pinpoint')
    applicationId = os.environ['APP_ID']
    userId = event['Details']['Parameters']['userId']

    # セグメントからエンドポイント取得
    response = client.get_user_endpoints(
        ApplicationId = applicationId, UserId=userId)

    # 対象のエンドポイントを更新
    for endpoint in response['EndpointsResponse']['Item']:
        if endpoint['Attributes']['Index'][0] == userId + '-SMS':
            endpoint['Attributes']['Status'][0] = 'CANCELED'
            result = client.update_endpoint(
                ApplicationId=applicationId,
                EndpointId=endpoint['Id'],
                EndpointRequest={
                    'Attributes': endpoint['Attributes']}
            )
