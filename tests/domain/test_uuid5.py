"""The fast `uuid5` derives the standard library's ids."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from domain._uuid5 import uuid5


@given(namespace=st.uuids(), name=st.text())
def test_it_is_the_standard_librarys_uuid5(namespace: uuid.UUID, name: str) -> None:
    try:
        expected = uuid.uuid5(namespace, name)
    except UnicodeEncodeError:  # a lone surrogate: neither can hash it
        return
    assert uuid5(namespace, name) == expected
    assert uuid5(namespace, name).version == 5
