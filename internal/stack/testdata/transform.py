"""Transform Vigil's SAM template offline, the way `sam package` + CloudFormation would.

Usage: transform.py TEMPLATE ASL_FILE CODE_S3_URI

Local paths are replaced first, as `sam package` does: every function's
CodeUri by CODE_S3_URI, the state machine's DefinitionUri by the definition
read from ASL_FILE. Then samtranslator transforms the template with a region
set and a managed-policy loader that needs no AWS account. Prints JSON:
{"template": <transformed template>}.
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
    template_path, asl_path, code_uri = sys.argv[1:4]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
    with open(template_path) as f:
        template = yaml_parse(f.read())
    with open(asl_path) as f:
        definition = json.load(f)

    for resource in template.get("Resources", {}).values():
        props = resource.setdefault("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            props["CodeUri"] = code_uri
        elif kind == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            del props["DefinitionUri"]
            props["Definition"] = definition
    globals_fn = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_fn:
        globals_fn["CodeUri"] = code_uri

    out = transform(template, {}, OfflinePolicyLoader())
    json.dump({"template": out}, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
