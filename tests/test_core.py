"""singer-sdk's standard tap tests, run against the sandbox."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_rest.sandbox import Sandbox
from tap_rest.tap import TapRest

# The standard tests are generated when this module is imported, so the sandbox starts here.
_sandbox = Sandbox().start()
atexit.register(_sandbox.stop)

TestTapRest = get_tap_test_class(
    tap_class=TapRest,
    config={"jsonplaceholder_url": _sandbox.url, "pokeapi_url": _sandbox.pokeapi_url},
    suite_config=SuiteConfig(max_records_limit=None),
)
