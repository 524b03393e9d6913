import os

DEBUG = False
AWS_ACCESS_KEY_ID = "@@aws-access-key-id@@"
aws_secret_access_key = "@@aws-secret-access-key@@"
REGION = os.environ.get("AWS_REGION", "eu-west-1")
