"""A GPU asked for with a torch that cannot use one: one clear error, before any work."""

from __future__ import annotations

import pytest
import torch

from jointsed.utils.device import DeviceError, check_device, wants_cuda


@pytest.mark.parametrize("device,expected", [("gpu", True), ("cuda", True), ("cuda:1", True), ("CUDA", True),
                                             ("cpu", False), ("auto", False), ("mps", False), (None, False)])
def test_wants_cuda(device, expected):
    assert wants_cuda(device) is expected


def test_cpu_never_raises():
    check_device("cpu")
    check_device("auto")
    check_device(None)


def test_cpu_build_message(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(DeviceError, match=r"--device gpu: no CUDA GPU visible to torch \(torch .*built without CUDA\)"
                                          r".*docs/gpu\.md"):
        check_device("gpu")


def test_cuda_build_without_device(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.6")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="CUDA 12.6 build, no device"):
        check_device("cuda", "--accelerator")


def test_gpu_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.6")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_device("cuda:1")
    check_device("gpu")
    with pytest.raises(DeviceError, match=r"2 device\(s\), cuda:2 asked"):
        check_device("cuda:2")
