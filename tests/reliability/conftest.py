"""The kernel suite's compiled kernels, shared with the reliability tests (each distinct
kernel costs a compile of several seconds)."""

from tests.kernels.conftest import kernel_root, kernels  # noqa: F401 (session fixtures)
