"""The JSON-LD contexts the hub signs with are the ones the independent verifier loads from npm
(credentials/contexts/README.md), and the hub never loads any other (VC Data Model 2.0 §4.3:
contexts are static; nothing is fetched at run time)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from pyld import jsonld as pyld

from credentials import jsonld
from credentials.errors import ContextNotAvailable
from tests.credentials.support import VERIFIER

DUMP = "import {CONTEXTS} from './contexts.mjs'; process.stdout.write(JSON.stringify(Object.fromEntries(CONTEXTS)));"


def test_shipped_contexts_equal_the_npm_packages() -> None:
    node = shutil.which("node")
    if node is None or not (VERIFIER / "node_modules").is_dir():
        pytest.skip("node or the verifier's npm packages are missing (make test runs npm ci)")
    done = subprocess.run([node, "--input-type=module", "-e", DUMP], cwd=VERIFIER, capture_output=True, text=True,
                          timeout=60, check=True)
    npm = json.loads(done.stdout)
    for url in jsonld.FILES:
        assert jsonld.context(url) == npm[url], url


def test_no_other_context_is_ever_loaded() -> None:
    with pytest.raises(ContextNotAvailable):
        jsonld.context("https://evil.example/context.json")
    with pytest.raises(pyld.JsonLdError):
        jsonld.document_loader("https://www.w3.org/2018/credentials/v1")
    doc = {"@context": ["https://www.w3.org/ns/credentials/v2", "https://evil.example/c.json"], "id": "urn:x"}
    with pytest.raises(ContextNotAvailable):
        jsonld.canonize(doc)
