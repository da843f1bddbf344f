"""Import TensorFlow without its start-up noise on stderr.

TensorFlow's C++ runtime prints oneDNN, CUDA-stub and `absl::InitializeLog`
lines while it is imported, before any log level applies. The `mmsa` command
imports it with file descriptor 2 pointed at a temporary file; the captured
text is shown again only if the import fails or `--debug` / `MMSA_DEBUG=1`
asks for it.
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import sys
import tempfile
import threading


def debug_enabled() -> bool:
    return os.environ.get("MMSA_DEBUG", "").strip() not in ("", "0", "false", "no")


#: a native (absl / TF C++) log line: "I0000 00:00:1795460494.379202   10260 port.cc:153] ..."
NATIVE_LOG = re.compile(rb"^(WARNING: All log messages before absl|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\])")
_filtering = False


def filter_native_stderr() -> None:
    """From now on, drop TensorFlow's native log lines from file descriptor 2 (the CLI calls this).

    Python's own `sys.stderr` is re-opened on the original descriptor, so warnings
    and error messages are unaffected; everything else native code writes to fd 2
    passes through a pipe and is forwarded unless it is a native log line.
    """
    global _filtering
    if _filtering or debug_enabled():
        return
    if sys.stderr is not sys.__stderr__:
        # `main()` called by a host that redirected Python's stderr (pytest's capture, a notebook):
        # leave its stream in place rather than writing past it to the descriptor
        return

    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = open(
        os.dup(original),
        "w",
        encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
        errors="backslashreplace",
        buffering=1,
    )

    def pump():
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not NATIVE_LOG.match(line):
                        os.write(original, line + b"\n")
            if pending and not NATIVE_LOG.match(pending):
                os.write(original, pending)

    threading.Thread(target=pump, name="mmsa-stderr-filter", daemon=True).start()
    _filtering = True


def _flush_c_streams() -> None:
    """Flush C-level stdio buffers, so native lines land in the sink, not on the real stderr later."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:  # pragma: no cover - not every platform exposes libc this way
        pass


def quiet_tensorflow() -> None:
    """Import TensorFlow (and Keras) once, silencing the native start-up lines."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if debug_enabled():
        import tensorflow  # noqa: F401

        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf  # noqa: F401

            tf.get_logger().setLevel("ERROR")
            import keras  # noqa: F401

            # the CUDA probe logs "failed call to cuInit" on machines without a GPU
            tf.config.list_physical_devices("GPU")
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            _flush_c_streams()
            os.dup2(saved, 2)
            os.close(saved)
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


class _QuietImport:
    """A `sys.meta_path` finder that makes the first `import tensorflow` go through `quiet_tensorflow`.

    `import mmsa_keras` stays instant; whichever submodule first imports
    TensorFlow (from the Python API as much as from the CLI) does so without the
    native start-up lines. The finder removes itself on first use.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None

        if self in sys.meta_path:
            sys.meta_path.remove(self)
        quiet_tensorflow()  # imports it, with file descriptor 2 pointed elsewhere
        module = sys.modules["tensorflow"]

        class _Loaded:
            @staticmethod
            def create_module(spec):
                return module

            @staticmethod
            def exec_module(mod):
                return None

        return importlib.machinery.ModuleSpec(name, _Loaded(), origin=getattr(module, "__file__", None))


def install_quiet_import() -> None:
    """Silence TensorFlow's start-up lines for whoever imports it first (not with --debug / MMSA_DEBUG=1)."""
    if "tensorflow" in sys.modules or debug_enabled() or any(isinstance(f, _QuietImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImport())
