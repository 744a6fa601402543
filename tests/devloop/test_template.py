"""Templates: what `serve --template` reads from a SAM or CloudFormation template.

Written as people write them (short-form tags, Globals, parameters, conditions, layers
beside the code) and checked for what the local Lambda would run: handlers, paths,
variables, and one line for each thing it has to leave out.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from local_lambda.devloop.template import TemplateError, read_template
from local_lambda.devloop.template_configs import Options, plan_template
from local_lambda.devloop.template_functions import load_functions

SAM_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Secret:
    Type: String
  Names:
    Type: CommaDelimitedList
    Default: a,b
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Mappings:
  Sizes:
    dev: {Memory: 256}
    prod: {Memory: 1024}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    Layers: [!Ref Shared]
    Environment:
      Variables:
        STAGE: !Ref Stage
        LOG_LEVEL: INFO
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared/
  Other:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: layers/other
  Table:
    Type: AWS::DynamoDB::Table
  Api:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub '${AWS::StackName}-api-${Stage}'
      CodeUri: src/api
      Handler: app.handler
      MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
      Architectures: [arm64]
      ReservedConcurrentExecutions: 3
      Layers:
        - !Ref Other
        - arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7
      Environment:
        Variables:
          LOG_LEVEL: DEBUG
          TABLE: !Ref Table
          TABLE_ARN: !GetAtt Table.Arn
          SELF: !GetAtt Worker.Arn
          MODE: !If [IsProd, fast, safe]
          FIRST: !Select [0, !Ref Names]
          JOINED: !Join ['-', [!Ref 'AWS::Region', !Ref 'AWS::AccountId']]
          DEBUG: true
          NONE: !If [IsProd, x, !Ref 'AWS::NoValue']
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/worker/
      Handler: worker.main
      Timeout: 60
      Environment:
        Variables:
          TOKEN: !Ref Secret
  FromS3:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://my-bucket/code.zip
      Handler: app.handler
  Container:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123.dkr.ecr.us-east-1.amazonaws.com/x:latest
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for folder in ("src/api", "src/worker", "layers/shared/python", "layers/other"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "template.yaml").write_text(SAM_TEMPLATE)
    return tmp_path / "template.yaml"


def test_sam_template_functions_as_they_would_run(project: Path) -> None:
    found = load_functions(project)
    root = project.parent
    assert sorted(found.functions) == ["Api", "Worker"]
    api = found.functions["Api"]
    assert api.name == "local-api-dev"  # FunctionName resolved (stack name: local)
    assert (api.handler, api.runtime, api.timeout, api.memory_mb) == (
        "app.handler",
        "python3.12",
        10.0,
        256,
    )
    assert api.code == root / "src/api"
    assert api.architecture == "arm64"
    assert api.reserved_concurrency == 3
    # Globals' layers first, then the function's; the published ARN is left out.
    assert api.layers == (root / "layers/shared", root / "layers/other")
    assert api.environment == {
        "STAGE": "dev",
        "LOG_LEVEL": "DEBUG",  # the function's value wins over Globals'
        "MODE": "safe",
        "FIRST": "a",
        "JOINED": "us-east-1-123456789012",
        "DEBUG": "true",
        "SELF": "arn:aws:lambda:us-east-1:123456789012:function:Worker",
    }
    worker = found.functions["Worker"]
    assert (worker.name, worker.handler, worker.timeout, worker.memory_mb) == (
        "Worker",
        "worker.main",
        60.0,
        128,
    )
    assert worker.environment == {"STAGE": "dev", "LOG_LEVEL": "INFO"}
    assert found.find("local-api-dev") is api and found.find("Worker") is worker
    assert found.find("nope") is None


def test_what_cannot_be_resolved_is_named_in_one_line_each(project: Path) -> None:
    found = load_functions(project)
    assert found.unservable == {
        "FromS3": (
            "CodeUri is s3://my-bucket/code.zip: "
            "give a local path to the code (or sam build's template)"
        ),
        "Container": "PackageType Image: the local Lambda runs zip functions only",
    }
    problems = "\n".join(found.problems)
    assert all("\n" not in line for line in found.problems)
    assert (
        "Api: layer arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3"
        in problems
    )
    assert (
        "Api: environment variable TABLE left out: Ref Table: "
        "the physical id of a AWS::DynamoDB::Table" in problems
    )
    assert "Api: environment variable TABLE_ARN left out: Fn::GetAtt Table.Arn" in problems
    assert (
        "Worker: environment variable TOKEN left out: parameter Secret has no Default: "
        "give it with --parameter-overrides Secret=VALUE" in problems
    )
    assert len(found.problems) == 4


def test_parameter_overrides_change_what_resolves(project: Path) -> None:
    found = load_functions(project, {"Stage": "prod", "Secret": "s3cr3t"})
    api = found.functions["Api"]
    assert api.name == "local-api-prod"
    assert api.memory_mb == 1024
    assert api.environment["MODE"] == "fast"
    assert api.environment["NONE"] == "x"
    assert found.functions["Worker"].environment["TOKEN"] == "s3cr3t"


def test_cloudformation_json_template(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": "code",
                    "Handler": "app.handler",
                    "Runtime": "python3.13",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Environment": {"Variables": {"N": 5}},
                },
            },
            "Inline": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"ZipFile": "def handler(event, context):\n    return 'inline'\n"},
                    "Handler": "index.handler",
                    "Runtime": "python3.12",
                },
            },
            "Role": {"Type": "AWS::IAM::Role"},
        }
    }
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(template))
    found = load_functions(path)
    assert found.functions["Fn"].code == tmp_path / "code"
    assert found.functions["Fn"].environment == {"N": "5"}
    inline = found.functions["Inline"].code
    assert (inline / "index.py").read_text().startswith("def handler")
    assert found.problems == []  # Role is not something the local Lambda needs


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            "Resources:\n  F:\n    Type: X\n    Properties: {a: !Ref}\n  bad: [\n",
            "template.yaml:4: ",
        ),
        (
            "Resources:\n  F:\n    Type: X\n  F:\n    Type: Y\n",
            "template.yaml:2: Duplicate found 'F'",
        ),
        ("Parameters: {}\n", "no Resources section"),
        ("- 1\n- 2\n", "a template is a mapping"),
        ("Resources:\n  F:\n    Properties: {}\n", "resource F has no Type"),
        ("Resources:\n  T:\n    Type: AWS::SQS::Queue\n", "defines no AWS::Serverless::Function"),
    ],
)
def test_bad_templates_are_one_line_errors(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    with pytest.raises(TemplateError) as caught:
        load_functions(path)
    assert complaint in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_template_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such template file"):
        read_template(tmp_path / "nope.yaml")


def test_a_function_without_handler_or_code_is_unservable(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Resources:
              NoHandler:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: ., Runtime: python3.12}
              NoCode:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: missing/, Handler: app.handler}
            """
        )
    )
    found = load_functions(tmp_path / "template.yaml")
    assert found.functions == {}
    assert found.unservable["NoHandler"].startswith("no Handler (line 4)")
    assert found.unservable["NoCode"].startswith("code missing/ not found")


def test_a_parameter_outside_its_allowed_values_is_named(project: Path) -> None:
    """CloudFormation refuses such a value; what uses it is left out, saying why."""
    found = load_functions(project, {"Stage": "qa"})
    assert found.functions["Api"].name == "Api"  # FunctionName used Stage: not resolved
    assert (
        "Worker: environment variable STAGE left out: parameter Stage is 'qa', not one of"
        " its AllowedValues dev, prod" in "\n".join(found.problems)
    )


def test_architectures_in_globals_and_in_a_function_is_refused_as_sam_cli_refuses_it(
    tmp_path: Path,
) -> None:
    """SAM merges a list in Globals with the function's by appending the function's entries
    (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/
    sam-specification-template-anatomy-globals.html, and SAM's globals plugin:
    global + local), so both give a two-entry Architectures, which SAM CLI refuses ("property
    Architectures should be a list of length 1") and Lambda too (one architecture per
    function). A function that sets none inherits Globals'."""
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Globals:
              Function:
                Architectures: [x86_64]
                Layers: [arn:aws:lambda:us-east-1:123456789012:layer:a:1]
            Resources:
              Both:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: ., Handler: app.handler, Architectures: [arm64]}
              Inherits:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: .
                  Handler: app.handler
                  Layers: [arn:aws:lambda:us-east-1:123456789012:layer:b:1]
              TwoOfItsOwn:
                Type: AWS::Lambda::Function
                Properties: {Code: ., Handler: app.handler, Architectures: [arm64, x86_64]}
            """
        )
    )
    found = load_functions(tmp_path / "template.yaml")
    assert found.unservable["Both"] == (
        "Architectures is [x86_64, arm64] (SAM appends the function's list to Globals'"
        " Architectures): set it in Globals or in the function, not both"
    )
    assert found.unservable["TwoOfItsOwn"] == (
        "Architectures is [arm64, x86_64]: Lambda takes exactly one, x86_64 or arm64"
    )
    assert found.functions["Inherits"].architecture == "x86_64"
    # Layers append the same way: Globals' first, then the function's (both published
    # layers here, so each is named as left out, in that order).
    left_out = [p for p in found.problems if p.startswith("Inherits: layer ")]
    assert [p.split()[2] for p in left_out] == [
        "arn:aws:lambda:us-east-1:123456789012:layer:a:1",
        "arn:aws:lambda:us-east-1:123456789012:layer:b:1",
    ]


def test_an_unknown_parameter_override_is_named_with_the_templates_parameters(
    project: Path,
) -> None:
    found = load_functions(project, {"Stag": "prod", "Stage": "prod"})
    assert (
        "--parameter-overrides: Stag is not a parameter of the template (its parameters:"
        " Stage, Secret, Names); ignored" in found.problems
    )
    assert found.functions["Api"].name == "local-api-prod"  # the known one still applies


def test_snap_start_as_both_function_types_take_it(tmp_path: Path) -> None:
    """``SnapStart: {ApplyOn: PublishedVersions | None}`` (AWS::Serverless::Function, in
    Globals too, and AWS::Lambda::Function); Lambda offers it for python3.12 and later
    only, so a function asking for it on another runtime is not served, saying why."""
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Globals:
              Function:
                SnapStart: {ApplyOn: PublishedVersions}
                Runtime: python3.12
            Resources:
              FromGlobals:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: ., Handler: app.handler}
              TurnedOff:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: ., Handler: app.handler, SnapStart: {ApplyOn: None}}
              Plain:
                Type: AWS::Lambda::Function
                Properties: {Code: ., Handler: app.handler, Runtime: python3.13}
              Lambda:
                Type: AWS::Lambda::Function
                Properties:
                  Code: .
                  Handler: app.handler
                  Runtime: python3.13
                  SnapStart: {ApplyOn: PublishedVersions}
              OldPython:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: ., Handler: app.handler, Runtime: python3.11}
              Misspelt:
                Type: AWS::Lambda::Function
                Properties: {Code: ., Handler: app.handler, SnapStart: {ApplyOn: Always}}
            """
        )
    )
    found = load_functions(tmp_path / "template.yaml")
    served = {name: spec.snap_start for name, spec in found.functions.items()}
    assert served == {
        "FromGlobals": True,
        "TurnedOff": False,
        "Plain": False,
        "Lambda": True,
        "OldPython": True,
    }
    assert found.unservable["Misspelt"] == (
        "SnapStart is {'ApplyOn': 'Always'}: give {ApplyOn: PublishedVersions} (or None)"
    )
    plan = plan_template(found, Options(default_command=["bootstrap"]))
    configs = {f.names[0]: f.config.snap_start for f in plan.functions}
    assert configs == {"FromGlobals": True, "TurnedOff": False, "Plain": False, "Lambda": True}
    assert plan.refusals["OldPython"] == (
        "SnapStart with Runtime python3.11: Lambda offers SnapStart for Python from"
        " python3.12 on (not for OS-only runtimes): use python3.12 or later"
    )
