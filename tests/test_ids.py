"""ketch/ids.py: ids in exactly the form `str(uuid.uuid4())` has, without importing uuid."""

from __future__ import annotations

import subprocess
import sys
import uuid

from ketch.ids import uuid4


def test_uuid4_is_a_version_4_rfc_4122_uuid_in_canonical_form():
    for _ in range(200):
        text = uuid4()
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case hex, 8-4-4-4-12
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_uuid4_is_random():
    assert len({uuid4() for _ in range(1000)}) == 1000


def test_importing_ids_does_not_import_uuid_or_platform():
    code = "import sys, ketch.ids; ketch.ids.uuid4(); print(sorted({'uuid', 'platform'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
