"""Find every code block the documentation shows, straight from the files (nothing is copied into the tests).

Sources: the fenced blocks of README.md and roles/*/README.md, the code blocks (``.. code-block:: LANG``, and
literal blocks after ``::`` as ``text``) of the guides in docs/docsite/rst/, and the EXAMPLES string of each module
in plugins/modules/ (read with ``ast``, so a module that cannot be imported still yields its examples).

Each block gets a stable id: ``<file>:<slug of the heading above it>`` for YAML blocks, with ``:<language>``
appended for other languages and ``:2``, ``:3``... for further blocks of that language in one section, and
``<module>:EXAMPLES`` for a module's examples. Markdown and RST files follow the same scheme
(``docs/docsite/rst/guide_pipelines.rst:github-actions``).
"""

from __future__ import annotations

import ast
import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# RST: a section title is a line of text underlined by one punctuation character repeated (and maybe overlined)
RST_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:._])\1+\s*$")
RST_CODE = re.compile(r"^(\s*)\.\.\s+(?:code-block|code|sourcecode)::\s*([\w+-]*)\s*$")
RST_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
RST_DOCS = "docs/docsite/rst"
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


def block_id(relpath: str, section: str, kind: str, counts: dict) -> str:
    """``<file>:<section>``, ``:<language>`` unless YAML, ``:<n>`` for the n-th such block of the section."""
    counts[(section, kind)] = counts.get((section, kind), 0) + 1
    made = "%s:%s" % (relpath, section) + ("" if kind == "yaml" else ":" + kind)
    return made + (":%d" % counts[(section, kind)] if counts[(section, kind)] > 1 else "")


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
            blocks.append(Block(block_id(relpath, section, kind, counts), relpath, start, kind, "\n".join(body) + "\n"))
            lang = None
        else:
            body.append(line)
    if lang is not None:
        raise ValueError("%s: the code block opened on line %d is never closed" % (relpath, start - 1))
    return blocks


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip())


def rst_blocks(root: Path, relpath: str) -> list:
    """The code blocks of one RST file, in order: ``.. code-block:: LANG`` (also ``code``, ``sourcecode``), and the
    literal block after a paragraph ending in ``::`` (language ``text``, as an unlabelled Markdown fence).

    A block's content is every line after the directive (and its ``:option:`` lines) indented deeper than the
    directive, blank lines included, dedented; it ends at the first line that is not.
    """
    lines = (root / relpath).read_text(encoding="utf-8").splitlines()
    blocks, counts, section, number = [], {}, "top", 0
    while number < len(lines):
        line = lines[number]
        code = RST_CODE.match(line)
        literal = (not code and line.rstrip().endswith("::") and not RST_DIRECTIVE.match(line)
                   and not RST_ADORNMENT.match(line))
        if code or literal:
            outer = indentation(line)
            lang = ((code.group(2) if code else "") or "text").lower()
            number += 1
            while code and number < len(lines) and lines[number].strip().startswith(":") \
                    and indentation(lines[number]) > outer:
                number += 1   # the directive's options (:caption:, :emphasize-lines:...)
            first, body = None, []
            while number < len(lines) and (not lines[number].strip() or indentation(lines[number]) > outer):
                if lines[number].strip() and first is None:
                    first = number + 1   # the block's first text line, 1-based
                if first is not None:
                    body.append(lines[number])
                number += 1
            while body and not body[-1].strip():
                body.pop()
            if not body:
                raise ValueError("%s: the code block above line %d is empty" % (relpath, number + 1))
            kind = "yaml" if lang in YAML_LANGS else lang
            text = textwrap.dedent("\n".join(body)) + "\n"
            blocks.append(Block(block_id(relpath, section, kind, counts), relpath, first, kind, text))
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if line.strip() and not line[0].isspace() and not RST_ADORNMENT.match(line) and RST_ADORNMENT.match(following) \
                and len(following.strip()) >= len(line.strip()):
            section = slug(line.strip())
        number += 1
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
    """Files whose examples must run: the collection's README, each role's, and the guides in docs/docsite/rst/."""
    return (["README.md"] + sorted(str(p.relative_to(root)) for p in root.glob("roles/*/README.md"))
            + sorted(str(p.relative_to(root)) for p in (root / RST_DOCS).glob("*.rst")))


def file_blocks(root: Path, relpath: str) -> list:
    """The code blocks of one documentation file, Markdown or RST."""
    return rst_blocks(root, relpath) if relpath.endswith(".rst") else markdown_blocks(root, relpath)


def module_files(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.glob("plugins/modules/*.py") if p.name != "__init__.py")


def all_blocks(root: Path) -> list:
    """Every block: documentation files first, then module EXAMPLES (modules without EXAMPLES are left out)."""
    blocks = [block for relpath in documented_files(root) for block in file_blocks(root, relpath)]
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
