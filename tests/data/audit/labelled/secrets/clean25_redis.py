import os

import redis

local = redis.Redis.from_url("redis://:password@localhost:6379/0")
prod = redis.Redis.from_url(os.environ["REDIS_URL"])
