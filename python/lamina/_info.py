"""``lamina.info()``: what this build is and what the machine offers."""

from __future__ import annotations

from . import _C


def info() -> dict:
    """Version, build type, CPU features in use, threads, CUDA built (and why not), devices seen.

    >>> import lamina
    >>> sorted(lamina.info())[:3]
    ['build_type', 'cpu', 'cpu_features']
    """
    b = _C.build_info()
    c = _C.cpu_info()
    n = _C.cuda.device_count()
    return {
        "version": b["version"],
        "build_type": b["build_type"],
        "compiler": b["compiler"],
        "cpu": c["model"],
        "cpu_features": {"avx2": c["avx2"], "fma": c["fma"], "avx512f": c["avx512f"]},
        "cpu_isa": c["isa"],
        "num_threads": _C.get_num_threads(),
        "cuda_built": b["cuda_built"],
        "cuda_build_reason": b["cuda_reason"],
        "cuda_devices": [_C.cuda.get_device_name(i) for i in range(n)],
        "cuda_unavailable_reason": _C.cuda.unavailable_reason(),
    }


def format_info() -> str:
    i = info()
    feats = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in i["cpu_features"].items())
    compiler = i["compiler"].split()[0] if i["compiler"] else "unknown compiler"
    lines = [
        f"lamina {i['version']} ({i['build_type']} build, g++/clang {compiler})",
        f"cpu:         {i['cpu'] or 'unknown'}",
        f"cpu features: {feats}; kernels use: {i['cpu_isa']}",
        f"threads:     {i['num_threads']}",
        f"cuda built:  {'yes' if i['cuda_built'] else 'no'} ({i['cuda_build_reason']})",
    ]
    if i["cuda_devices"]:
        lines.append("cuda devices: " + "; ".join(f"cuda:{k} {n}" for k, n in enumerate(i["cuda_devices"])))
    else:
        lines.append(f"cuda devices: none ({i['cuda_unavailable_reason'] or 'no device visible'})")
    return "\n".join(lines)
