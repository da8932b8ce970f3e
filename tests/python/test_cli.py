"""The `lamina` command and lamina.info()."""

import json
import subprocess
import sys

import lamina


def test_info_dict():
    i = lamina.info()
    for key in ["version", "build_type", "cpu_features", "cpu_isa", "num_threads", "cuda_built",
                "cuda_build_reason", "cuda_devices"]:
        assert key in i
    assert i["version"] == lamina.__version__
    assert i["cpu_isa"] in ("avx512", "avx2+fma", "portable")
    assert i["num_threads"] == lamina.get_num_threads()
    assert i["cuda_built"] == lamina.cuda.is_built()
    if not i["cuda_built"]:
        assert i["cuda_build_reason"]  # says why not


def test_lamina_info_command():
    out = subprocess.run([sys.executable, "-m", "lamina.cli", "info"], capture_output=True, text=True, check=True)
    for word in ["lamina", "build", "cpu features", "threads", "cuda built", "cuda devices"]:
        assert word in out.stdout
    js = subprocess.run([sys.executable, "-m", "lamina.cli", "info", "--json"], capture_output=True, text=True,
                        check=True)
    assert json.loads(js.stdout)["version"] == lamina.__version__


def test_cli_without_command_prints_help():
    r = subprocess.run([sys.executable, "-m", "lamina.cli"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stdout
