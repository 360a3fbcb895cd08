"""Find every code block the documentation shows, straight from the files (nothing is copied into the tests).

Sources: the fenced blocks of README.md and roles/*/README.md, and the EXAMPLES string of each module in
plugins/modules/ (read with ``ast``, so a module that cannot be imported still yields its examples).

Each block gets a stable id: ``<file>:<slug of the heading above it>`` for YAML blocks, with ``:<language>``
appended for other languages and ``:2``, ``:3``... for further blocks of that language in one section, and
``<module>:EXAMPLES`` for a module's examples.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
YAML_LANGS = ("yaml", "yml")
PLAY_KEYS = ("hosts", "import_playbook", "ansible.builtin.import_playbook")
# A bash block is run when it starts the local API server and runs ansible-playbook against it.
LOCAL_SERVER = re.compile(r"^\s*python[0-9.]*\s+\S*sendgrid_api_server\.py\b", re.MULTILINE)
# Collection playbooks are named by FQCN (namespace.name.playbook) rather than by path.
PLAYBOOK_FQCN = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Block:
    """One code block of the documentation."""

    id: str
    source: str   # file, relative to the repository root
    line: int     # line of the block's first text line in that file
    lang: str
    text: str

    def __str__(self):
        return "%s (%s line %d)" % (self.id, self.source, self.line)


def slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def markdown_blocks(root: Path, relpath: str) -> list:
    """The fenced code blocks of one Markdown file, in order."""
    blocks, counts = [], {}
    section, lang, start, body = "top", None, 0, []
    for number, line in enumerate((root / relpath).read_text(encoding="utf-8").splitlines(), 1):
        fence = FENCE.match(line)
        if lang is None:
            if fence:
                lang, start, body = (fence.group(1) or "text").lower(), number + 1, []
            elif HEADING.match(line):
                section = slug(HEADING.match(line).group(2))
            continue
        if fence and not fence.group(1):
            kind = "yaml" if lang in YAML_LANGS else lang
            counts[(section, kind)] = counts.get((section, kind), 0) + 1
            block_id = "%s:%s" % (relpath, section) + ("" if kind == "yaml" else ":" + kind)
            if counts[(section, kind)] > 1:
                block_id += ":%d" % counts[(section, kind)]
            blocks.append(Block(block_id, relpath, start, kind, "\n".join(body) + "\n"))
            lang = None
        else:
            body.append(line)
    if lang is not None:
        raise ValueError("%s: the code block opened on line %d is never closed" % (relpath, start - 1))
    return blocks


def module_examples(root: Path, relpath: str):
    """The EXAMPLES string of one module file as a YAML block, or None when it has none."""
    tree = ast.parse((root / relpath).read_text(encoding="utf-8"), filename=relpath)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLES" for t in node.targets)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return Block("%s:EXAMPLES" % Path(relpath).stem, relpath, node.lineno, "yaml", node.value.value)
    return None


def documented_files(root: Path) -> list:
    """Markdown files whose examples must run: the collection's README and each role's."""
    return ["README.md"] + sorted(str(p.relative_to(root)) for p in root.glob("roles/*/README.md"))


def module_files(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.glob("plugins/modules/*.py") if p.name != "__init__.py")


def all_blocks(root: Path) -> list:
    """Every block: Markdown files first, then module EXAMPLES (modules without EXAMPLES are left out)."""
    blocks = [block for relpath in documented_files(root) for block in markdown_blocks(root, relpath)]
    blocks += [block for block in (module_examples(root, relpath) for relpath in module_files(root)) if block]
    return blocks


def kind(block: Block):
    """How a block is run: "play" (as is), "tasks" (wrapped in a play), "commands" (bash), or None (not runnable).

    A list that mixes plays and tasks counts as a task list: pasted under ``tasks:`` it must work, and the run
    shows that it does not.
    """
    if block.lang == "yaml":
        try:
            data = yaml.safe_load(block.text)
        except yaml.YAMLError:
            return None
        if not (isinstance(data, list) and data and all(isinstance(item, dict) for item in data)):
            return None
        if all(any(key in item for key in PLAY_KEYS) for item in data):
            return "play"
        return "tasks"
    if block.lang in ("bash", "sh", "shell") and LOCAL_SERVER.search(block.text) and "ansible-playbook" in block.text:
        return "commands"
    return None


def values_of(data, keys: tuple) -> list:
    """Every value under any of ``keys``, anywhere in parsed YAML."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in keys:
                found.append(value)
            found += values_of(value, keys)
    elif isinstance(data, list):
        for item in data:
            found += values_of(item, keys)
    return found


def shell_commands(text: str) -> list:
    """A bash block as commands: (environment assignments, argv, in the background), comments and ``\\`` joined."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        background = words[-1] == "&"
        if background:
            words = words[:-1]
        env = {}
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            name, value = words.pop(0).split("=", 1)
            env[name] = value
        commands.append((env, words, background))
    return commands
