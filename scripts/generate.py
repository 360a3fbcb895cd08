#!/usr/bin/env python
"""Write every block that follows from the families' declarations in plugins/module_utils (the Option of each
option in _family, the registry in _families): their documentation, and what the role baseline and the playbook
baseline pass on for each family.

    python scripts/generate.py            # rewrite every generated block
    python scripts/generate.py --check    # exit 1, naming each stale block, when a file differs

A generated block sits between a line "# BEGIN GENERATED <what>" and a line "# END GENERATED" inside a module's
DOCUMENTATION or a YAML file, at the indentation of its first line; everything outside the markers is written by hand.
<what> is one of:

    family <name> [<options>]    the family's own module's options (its section's, unless it declares others), or
                                 another list of options it declares (family api_keys audit_options)
    sections                     one dict option per family of the registry (sendgrid_baseline)
    overrides                    one override per family, for the items of a module's accounts option
    overrides <name>             the family's options, as overrides of an accounts item (sendgrid_enforced_tls_accounts)
    role <prefix>                one variable per family, <prefix><family>, in a role's argument specs
    role-defaults <prefix>       each such variable's default, null (not managed), in the role's defaults
    role-args <prefix>           each family's option set to its variable (the module's task, the report's policy)
    option-names <prefix>        each family's option and the variable that names it in messages
    section-names <prefix>       the variables, as a list (the playbook's check that a policy was given)
    action-group                 every module whose documentation says it belongs to the action group (runtime.yml)

In a family's documentation, O(@name) names another option of the family; it is written O(name) in the family's
module, O(<family>.name) in the baseline's section and C(name) in a role, where the fields are no options of their own.

The test command runs --check (tests/integration/test_generated.py), so a stale block fails CI.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN GENERATED (?P<what>.+?)\s*$")
END = re.compile(r"^[ \t]*# END GENERATED\s*$")
WIDTH = 116
ACTION_GROUP = re.compile(r"^  action_group:$", re.MULTILINE)   # the attribute, in a module's DOCUMENTATION
# Where generated blocks may be: every file of these folders that holds a "# BEGIN GENERATED" line.
FOLDERS = ["plugins/modules", "roles/baseline", "playbooks", "meta"]


def files(root: str) -> list:
    found = []
    for folder in FOLDERS:
        for directory, _dirs, names in os.walk(os.path.join(root, folder)):
            for name in sorted(names):
                path = os.path.join(directory, name)
                if name.endswith((".py", ".yml")) and "# BEGIN GENERATED " in _read(path):
                    found.append(os.path.relpath(path, root))
    return sorted(found)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def collection():
    """The checkout as the collection ansible_collections.mailops.sendgrid (a link in a temporary tree)."""
    root = tempfile.mkdtemp(prefix="mailops-sendgrid-docs-")
    os.makedirs(os.path.join(root, "ansible_collections", "mailops"))
    os.symlink(ROOT, os.path.join(root, "ansible_collections", "mailops", "sendgrid"))
    sys.path.insert(0, root)
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.mailops.sendgrid.plugins.module_utils import _families
    return root, _families


class Renderer:
    """The blocks, from the registry."""

    def __init__(self, families):
        self.registry = families.POLICY   # the sections; a family that is a module only has none
        self.by_name = families.BY_NAME

    def family(self, argument: str) -> dict:
        name, _space, options = argument.partition(" ")
        return _documentation(getattr(self.by_name[name], options or "module_options"), lambda option: "O(%s)" % option)

    def sections(self) -> dict:
        blocks = {}
        for family in self.registry:
            blocks[family.name] = dict(
                description=[family.summary, "V(null), or leaving it out, leaves it alone."], type="dict",
                suboptions=_documentation(family.options, lambda option, name=family.name: "O(%s.%s)" % (name, option)))
        return blocks

    def overrides(self, name: str | None = None) -> dict:
        if name is not None:
            return {option.name: dict(description="Overrides O(%s) for this account." % option.name,
                                      type=option.type, **({"elements": option.elements} if option.elements else {}))
                    for option in self.by_name[name].options}
        return {family.name: dict(
            description="Overrides of O(%s) for this account, field by field; a list replaces the policy's whole."
                        % family.name, type="dict") for family in self.registry}

    def role(self, prefix: str) -> dict:
        variables = {}
        for family in self.registry:
            fields = ", ".join("C(%s)" % option.name for option in family.options)
            entry = dict(description=[
                "%s For every account, with any of %s, as O(mailops.sendgrid.sendgrid_baseline#module:%s) takes them."
                % (_references(family.summary, lambda option: "C(%s)" % option), fields, family.name),
                "V(null) (the default) leaves it alone."], type="dict")
            if any(option.suboptions for option in family.options):
                entry["options"] = {option.name: dict(description="%s (%s)." % (
                    option.description[0].rstrip("."), ", ".join("C(%s)" % field.name for field in option.suboptions)),
                    type=option.type) for option in family.options}
            variables[prefix + family.name] = entry
        return variables

    def role_defaults(self, prefix: str) -> list:
        return ["%-30s # {%s}" % ("%s%s: null" % (prefix, family.name), ", ".join(option.name for option in family.options))
                for family in self.registry]

    def role_args(self, prefix: str) -> list:
        return ['%s: "{{ %s%s }}"' % (family.name, prefix, family.name) for family in self.registry]

    def option_names(self, prefix: str) -> list:
        return ["%s: %s%s" % (family.name, prefix, family.name) for family in self.registry]

    def section_names(self, prefix: str) -> list:
        return ["- %s%s" % (prefix, family.name) for family in self.registry]

    @staticmethod
    def action_group(_argument) -> list:
        modules = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                         if name.endswith(".py") and ACTION_GROUP.search(_read(os.path.join(ROOT, "plugins", "modules",
                                                                                            name))))
        return ["- %s" % module for module in modules]

    def render(self, what: str):
        """A dict (dumped as YAML) or the lines themselves."""
        kind, _space, argument = what.partition(" ")
        renderers = {"family": self.family, "sections": lambda _argument: self.sections(),
                     "overrides": lambda argument: self.overrides(argument or None), "role": self.role,
                     "role-defaults": self.role_defaults, "role-args": self.role_args,
                     "option-names": self.option_names, "section-names": self.section_names,
                     "action-group": self.action_group}
        if kind not in renderers:
            raise ValueError("unknown generated block %r" % what)
        return renderers[kind](argument)


def _references(text: str, reference) -> str:
    return re.sub(r"O\(@([^)]*)\)", lambda match: reference(match.group(1)), text)


def _documentation(options: list, reference) -> dict:
    return {option.name: option.documentation(reference) for option in options}


def dump(data: dict, indent: str) -> list:
    """YAML lines at this indentation, in the house's style: a key per line, descriptions as lists of paragraphs
    folded at WIDTH, short lists of values in flow style."""
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append("%s%s:" % (indent, key))
            lines += dump(value, indent + "  ")
        elif key == "description":
            paragraphs = [value] if isinstance(value, str) else value
            if len(paragraphs) == 1 and len(indent) + len("description: ") + len(paragraphs[0]) <= WIDTH \
                    and _plain(paragraphs[0]):
                lines.append("%sdescription: %s" % (indent, paragraphs[0]))
                continue
            lines.append("%sdescription:" % indent)
            for paragraph in paragraphs:
                lines += _folded(indent + "  - ", indent + "    ", paragraph)
        else:
            lines.append("%s%s: %s" % (indent, key, _scalar(value)))
    return lines


def _plain(text: str) -> bool:
    return _scalar(text) == text


def _scalar(value) -> str:
    """A value as YAML writes it on one line: plain when it can be, quoted when it must be."""
    if isinstance(value, list):
        return "[%s]" % ", ".join(_scalar(item) for item in value)
    text = yaml.safe_dump(value, width=10 ** 6, default_flow_style=True).strip()
    return text[:-len("...")].strip() if text.endswith("...") else text


def _folded(first: str, rest: str, text: str) -> list:
    """One paragraph as a list item, folded at WIDTH (a quoted scalar folds the same way: a line break is a space)."""
    words = _scalar(text).split(" ")
    lines, line = [], first
    for word in words:
        if line not in (first, rest) and len(line) + 1 + len(word) > WIDTH:
            lines.append(line)
            line = rest + word
        else:
            line += ("" if line in (first, rest) else " ") + word
    return lines + [line]


def regenerate(text: str, renderer: Renderer) -> tuple:
    """(the text with every generated block rewritten, the blocks' names)."""
    lines, out, names, index = text.splitlines(), [], [], 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        begin = BEGIN.match(line)
        index += 1
        if not begin:
            continue
        names.append(begin.group("what"))
        while index < len(lines) and not END.match(lines[index]):
            index += 1
        if index == len(lines):
            raise ValueError("a block %r has no # END GENERATED" % begin.group("what"))
        block = renderer.render(begin.group("what"))
        indent = begin.group("indent")
        out += dump(block, indent) if isinstance(block, dict) else [indent + line for line in block]
        out.append(lines[index])
        index += 1
    return "\n".join(out) + ("\n" if text.endswith("\n") else ""), names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a block is stale")
    parser.add_argument("--root", default=ROOT, help="the checkout to write (default: this one)")
    args = parser.parse_args(argv)
    tree, families = collection()
    try:
        renderer = Renderer(families)
        stale = []
        targets = files(args.root)
        for relative in targets:
            path = os.path.join(args.root, relative)
            text = _read(path)
            new, _names = regenerate(text, renderer)
            if new != text:
                stale.append(relative)
                if not args.check:
                    with open(path, "w", encoding="utf-8") as handle:
                        handle.write(new)
        if args.check and stale:
            print("Stale generated blocks in %s: run python scripts/generate.py and commit the result."
                  % ", ".join(stale))
            return 1
        print("%s %d file(s)." % ("Checked" if args.check else "Wrote", len(targets)))
        return 0
    finally:
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
