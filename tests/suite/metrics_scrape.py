"""Parses Prometheus text read from stdin with the prometheus_client package (no mkube code)
and prints what it understood as JSON, for tests/suite/metrics_scrape.rs to assert on.

Both of its parsers read the text: the Prometheus text-format parser (the content type
`/metrics` declares) and the stricter OpenMetrics parser (the format the encoder writes,
`# EOF` included). Either one failing exits non-zero with its error."""

import json
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
families = list(text_string_to_metric_families(text))
strict = list(openmetrics_families(text))
json.dump(
    {
        "types": {f.name: f.type for f in families},
        "openmetrics": sorted(f.name for f in strict),
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value}
            for f in families
            for s in f.samples
        ],
    },
    sys.stdout,
)
