"""`mmsa models` reads a static index (no TensorFlow); it must say what the registry says."""

import subprocess
import sys

from mmsa_keras.model_index import MODALITIES, MODELS
from mmsa_keras.registry import list_models
from tests.conftest import REPO


def test_the_model_index_matches_the_registry():
    assert list(MODELS) == [(s.name, s.paper, s.table, s.description) for s in list_models()]
    assert MODALITIES == {s.name: tuple(s.modalities) for s in list_models()}


def test_mmsa_models_answers_without_tensorflow():
    code = "import sys; from mmsa_keras.app.cli import main; main(['models']); assert 'tensorflow' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1 + len(MODELS) and "native_cat" in proc.stdout
