import jwt


def decode(token: str, secret: str) -> dict:
    """Verify and decode a session token."""
    return jwt.decode(token, secret, algorithms=["HS256"])
