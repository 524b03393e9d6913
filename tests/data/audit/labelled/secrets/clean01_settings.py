import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DATABASES = {"default": {"PASSWORD": os.environ.get("DB_PASSWORD", "")}}
AWS_ACCESS_KEY_ID = os.getenv("AWS_ACCESS_KEY_ID")
