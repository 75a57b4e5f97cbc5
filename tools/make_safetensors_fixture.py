#!/usr/bin/env python3
"""Writes tests/data/safetensors/reference.safetensors with the reference implementation
(the `safetensors` package, PyTorch backend), for the C++ reader/writer tests.

The tensors and their values are listed in tests/unit/io/safetensors_test.cpp
(ReferenceFile* tests); keep both in step. Usage: python3 tools/make_safetensors_fixture.py
"""
import os

import torch
from safetensors.torch import save_file

out = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "safetensors",
                   "reference.safetensors")
tensors = {
    "a": torch.tensor([[1.0, -2.0, 3.5], [0.25, 0.0, -0.125]], dtype=torch.float32),
    "b": torch.tensor([1.0, -1.5, 3.140625, 65280.0], dtype=torch.bfloat16),
    "c": torch.tensor(-7, dtype=torch.int64),            # 0-d
    "d": torch.zeros((0,), dtype=torch.uint8),             # empty
    "e": torch.tensor([0.5, -2.0, 1024.0], dtype=torch.float16),
}
save_file(tensors, out, metadata={"format": "pt"})
print("wrote", os.path.normpath(out), os.path.getsize(out), "bytes")
