"""Reading a SAM or CloudFormation template (YAML or JSON) into plain dicts and lists.

YAML templates use CloudFormation's short-form tags (``!Ref``, ``!GetAtt A.Arn``,
``!Sub``, ``!If`` ...), which a plain YAML loader rejects. cfn-lint's decoder, which AWS
maintains for its own template linter, turns each into the long form (``{"Ref": ...}``,
``{"Fn::GetAtt": ["A", "Arn"]}``) and reports syntax errors and duplicate keys with a
line number, so nothing here parses YAML by hand. Importing it takes about a second
(cfn-lint loads its rule set), which is why it is imported only when a template is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

Template = dict[str, Any]


class TemplateError(Exception):
    """A template that cannot be read, said in one line with its file and line."""


def read_template(path: Path) -> Template:
    """The template at ``path`` with every intrinsic function in its long form."""
    if not path.is_file():
        raise TemplateError(f"{path}: no such template file (give the path of template.yaml)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read it ({exc})") from exc
    from cfnlint.decode import decode_str  # type: ignore[import-untyped]

    template, problems = decode_str(text)
    if problems:
        first = problems[0]
        raise TemplateError(f"{path}:{first.linenumber}: {first.message}")
    if not isinstance(template, dict):
        raise TemplateError(f"{path}: a template is a mapping with a Resources section")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError(f"{path}: no Resources section: a template defines its functions there")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"{path}:{line_of(resource)}: resource {logical_id} has no Type")
    return template


def line_of(node: Any) -> int | str:
    """The 1-based line a decoded mapping or list starts on ('?' for scalars and JSON)."""
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else "?"
