"""``lamina.cuda``: is CUDA here, and how much memory is in use."""

from __future__ import annotations

from . import _C


def is_built() -> bool:
    """Whether this build of Lamina includes the CUDA kernels."""
    return _C.cuda.is_built()


def is_available() -> bool:
    """Whether CUDA is built and at least one device is visible."""
    return _C.cuda.device_count() > 0


def device_count() -> int:
    return _C.cuda.device_count()


def unavailable_reason() -> str:
    """Why ``is_available()`` is False ("" when it is True)."""
    return _C.cuda.unavailable_reason()


def get_device_name(device: int = 0) -> str:
    return _C.cuda.get_device_name(int(device))


def _index(device) -> int:
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    from ._dtype import device as _device

    return _device(device).index or 0


def synchronize(device=None) -> None:
    _C.cuda.synchronize(_index(device))


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on the device."""
    return _C.cuda.memory_stats(_index(device))[0]


def max_memory_allocated(device=None) -> int:
    """Peak of memory_allocated since start or the last reset_peak_memory_stats()."""
    return _C.cuda.memory_stats(_index(device))[1]


def memory_reserved(device=None) -> int:
    """Bytes held by the caching allocator, cached blocks included."""
    return _C.cuda.memory_stats(_index(device))[2]


def reset_peak_memory_stats(device=None) -> None:
    _C.cuda.reset_peak_memory_stats(_index(device))


def empty_cache() -> None:
    """Returns cached, unused blocks to the driver."""
    _C.cuda.empty_cache()
