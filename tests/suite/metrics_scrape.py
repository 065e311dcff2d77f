"""Parses a `/metrics` scrape read from stdin with the prometheus_client package (no mkube
code) and prints what it understood as JSON, for tests/suite/metrics_scrape.rs to assert on.

The argument names the format: `text` (the classic Prometheus text format, its parser) or
`openmetrics` (the stricter OpenMetrics parser, which wants `# EOF` and typed families). A
parser refusing the text exits non-zero with its error."""

import json
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

parsers = {"text": text_families, "openmetrics": openmetrics_families}
families = list(parsers[sys.argv[1]](sys.stdin.read()))
json.dump(
    {
        "types": {f.name: f.type for f in families},
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value}
            for f in families
            for s in f.samples
        ],
    },
    sys.stdout,
)
