"""Transform Vigil's SAM template offline, the way `sam package` + CloudFormation would.

Usage: transform.py TEMPLATE ASL_FILE ALARMS_TEMPLATE CODE_S3_URI ALARMS_URL

Local paths are replaced first, as `sam package` does: every function's
CodeUri by CODE_S3_URI, the state machine's DefinitionUri by the definition
read from ASL_FILE, the nested application's Location by ALARMS_URL. Then
samtranslator transforms the template with a region set and a managed-policy
loader that needs no AWS account. Prints JSON:
{"template": <transformed template>, "alarms": <ALARMS_TEMPLATE as JSON>}.
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicyLoader:
    """Resolves AWS managed policy names to ARNs without calling IAM."""

    def load(self):
        return {}

    def load_managed_policies(self):
        return {}


def main():
    template_path, asl_path, alarms_path, code_uri, alarms_url = sys.argv[1:6]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
    with open(template_path) as f:
        template = yaml_parse(f.read())
    with open(asl_path) as f:
        definition = json.load(f)
    with open(alarms_path) as f:
        alarms = yaml_parse(f.read())

    for resource in template.get("Resources", {}).values():
        props = resource.setdefault("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            props["CodeUri"] = code_uri
        elif kind == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            del props["DefinitionUri"]
            props["Definition"] = definition
        elif kind == "AWS::Serverless::Application":
            props["Location"] = alarms_url
    globals_fn = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_fn:
        globals_fn["CodeUri"] = code_uri

    out = transform(template, {}, OfflinePolicyLoader())
    json.dump({"template": out, "alarms": alarms}, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
