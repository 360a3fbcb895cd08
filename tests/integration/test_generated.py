"""The documentation of the families' options is generated from their declarations (scripts/generate.py), and
the test command fails when a generated block is stale."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import REPO_ROOT

GENERATOR = REPO_ROOT / "scripts" / "generate.py"


def generate(*args):
    return subprocess.run([sys.executable, str(GENERATOR)] + list(args), capture_output=True, text=True, timeout=60,
                          check=False)


def copy_of_the_generated_files(tmp_path):
    for relative in ("plugins/modules", "roles/baseline", "playbooks", "meta"):
        shutil.copytree(REPO_ROOT / relative, tmp_path / relative)
    return tmp_path


def test_every_generated_block_is_current():
    done = generate("--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_stale_block_fails_the_check_naming_its_file_and_regenerating_mends_it(tmp_path):
    root = copy_of_the_generated_files(tmp_path)
    module = root / "plugins" / "modules" / "sendgrid_mail_settings.py"
    text = module.read_text(encoding="utf-8")
    edited = text.replace("Whether bounce records are purged.", "Whether bounce records are kept forever.")
    assert edited != text
    module.write_text(edited, encoding="utf-8")

    stale = generate("--check", "--root", str(root))
    assert stale.returncode == 1
    assert "Stale generated blocks in plugins/modules/sendgrid_mail_settings.py" in stale.stdout

    assert generate("--root", str(root)).returncode == 0
    assert module.read_text(encoding="utf-8") == text
    assert generate("--check", "--root", str(root)).returncode == 0


def test_a_hand_edit_outside_the_markers_is_kept(tmp_path):
    root = copy_of_the_generated_files(tmp_path)
    module = root / "plugins" / "modules" / "sendgrid_ip_access.py"
    text = module.read_text(encoding="utf-8").replace("short_description: ", "short_description: Hand-written. ", 1)
    module.write_text(text, encoding="utf-8")
    assert generate("--root", str(root)).returncode == 0
    assert module.read_text(encoding="utf-8") == text
