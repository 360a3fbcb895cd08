"""README's execution-environment definition, as written there, puts the collection and requests into the image.

There is no container engine here, so ansible-builder cannot build the image; instead this test does what the
README says up to the image build, with the definition read from README.md: build the artifact from a copy of
the work tree, write the definition next to it, run ``ansible-builder create`` from there. Then it checks the
generated build context and does, outside a container, the two steps of the generated Containerfile that
depend on this collection: the galaxy stage (``COPY _build /build``, ``ansible-galaxy collection install -r
requirements.yml`` in /build) and the builder stage's introspection, which must find requirements.txt's packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

import doc_examples
from conftest import REPO_ROOT

SECTION = "README.md:in-an-execution-environment-awx-automation-platform"
BIN = Path(sys.executable).parent


def readme_block(block_id: str):
    found = [block for block in doc_examples.markdown_blocks(REPO_ROOT, "README.md") if block.id == block_id]
    assert len(found) == 1, "README.md has no single block %s" % block_id
    return found[0]


def run(command: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    # the tools must see neither the test session's Ansible settings nor a collection path of the checkout
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ANSIBLE_")}
    environment.update(env or {})
    completed = subprocess.run([str(c) for c in command], cwd=str(cwd), env=environment, capture_output=True,
                               text=True, timeout=300, check=False)
    assert completed.returncode == 0, "%s (in %s): rc %d\n%s\n%s" % (
        " ".join(map(str, command)), cwd, completed.returncode, completed.stdout[-4000:], completed.stderr[-4000:])
    return completed


def requirement_names(text: str) -> set:
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].split("~")[0]
                      .split("!")[0].strip().lower())
    return names


def test_readme_execution_environment_puts_the_artifact_and_requests_into_the_build_context(tmp_path):
    definition_block = readme_block(SECTION)
    definition = yaml.safe_load(definition_block.text)
    commands = [argv for _env, argv, _bg in doc_examples.shell_commands(readme_block(SECTION + ":bash").text)]
    builds = [argv for argv in commands if argv[:2] == ["ansible-builder", "build"]]
    assert len(builds) == 1, commands
    options = builds[0]
    filename = options[options.index("--file") + 1] if "--file" in options else options[options.index("-f") + 1]
    # where the README runs ansible-builder: the artifact's directory ("cd build/"), else where it was built
    where = [argv[1] for argv in commands if argv[0] == "cd"]
    output = tmp_path / (where[-1] if where else "build")

    # the artifact, built as scripts/test.sh stage_build does: from a copy of the work tree without .git
    source = tmp_path / "ansible_collections" / "mailops" / "sendgrid"
    run(["bash", "scripts/ansible-test.sh", "stage", source], cwd=REPO_ROOT)
    # a directory in a clone, a file ("gitdir: ...") in a git worktree
    if (source / ".git").is_dir():
        shutil.rmtree(source / ".git")
    else:
        (source / ".git").unlink()
    run([BIN / "ansible-galaxy", "collection", "build", source, "--output-path", output], cwd=tmp_path)
    (artifact,) = output.glob("mailops-sendgrid-*.tar.gz")
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    assert artifact.name == "mailops-sendgrid-%s.tar.gz" % galaxy["version"]

    # the definition installs exactly that artifact, from a file
    collections = definition["dependencies"]["galaxy"]["collections"]
    assert [(Path(c["name"]).name, c.get("type")) for c in collections] == [(artifact.name, "file")], collections

    (output / filename).write_text(definition_block.text, encoding="utf-8")
    run([BIN / "ansible-builder", "create", "--file", filename, "--context", "context"], cwd=output)
    context = output / "context"

    copies = sorted((context / "_build").rglob(artifact.name))
    assert [c.read_bytes() == artifact.read_bytes() for c in copies] == [True], (
        "the build context must hold the artifact once: %s" % sorted(str(p.relative_to(context)) for p in context.rglob("*")))
    (image_file,) = [p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()]
    steps = [line.strip() for line in image_file.read_text(encoding="utf-8").splitlines()]
    # the galaxy stage this test replays below
    assert "COPY _build /build" in steps and "WORKDIR /build" in steps, steps
    install = [s for s in steps if "ansible-galaxy collection install" in s]
    assert len(install) == 1 and "-r requirements.yml" in install[0], install

    # the galaxy stage: ansible-galaxy in a copy of _build (the image's /build) installs from requirements.yml
    image_build = tmp_path / "image" / "build"
    shutil.copytree(context / "_build", image_build)
    image_collections = tmp_path / "image" / "usr-share-ansible-collections"
    # the image has no other collection path: one in this machine's home must not make galaxy skip the install
    run([BIN / "ansible-galaxy", "collection", "install", "-r", "requirements.yml", "--collections-path", image_collections],
        cwd=image_build, env={"ANSIBLE_GALAXY_DISABLE_GPG_VERIFY": "1", "ANSIBLE_COLLECTIONS_PATH": str(image_collections)})
    manifest = json.loads((image_collections / "ansible_collections" / "mailops" / "sendgrid" / "MANIFEST.json")
                          .read_text(encoding="utf-8"))
    assert (manifest["collection_info"]["namespace"], manifest["collection_info"]["name"],
            manifest["collection_info"]["version"]) == ("mailops", "sendgrid", galaxy["version"])

    # the builder stage: introspection collects the Python packages the image gets from the installed collection
    pip = tmp_path / "image" / "requirements.txt"
    run([sys.executable, image_build / "scripts" / "introspect.py", "introspect", image_collections,
         "--write-pip", pip, "--write-bindep", tmp_path / "image" / "bindep.txt"], cwd=tmp_path)
    wanted = requirement_names((REPO_ROOT / "requirements.txt").read_text(encoding="utf-8"))
    assert "requests" in wanted
    assert wanted <= requirement_names(pip.read_text(encoding="utf-8")), pip.read_text(encoding="utf-8")
