import uuid

REQUEST_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_ids():
    assert uuid.UUID(REQUEST_ID).version == 4
