"""mdcalc: matrix derivatives, computed three ways and checked numerically.

The running example is Z = A H W with A (V x V), H (V x d1), W (d1 x d2). Its derivative
with respect to H is one linear map, written three ways:

- :func:`jacobian_tensor`: the 4-index tensor ``dZ[i,l]/dH[j,k] = A[i,j] W[k,l]``;
- :func:`kron_jacobian`: the vec-Jacobian ``d vec(Z)/d vec(H) = W^T ⊗ A``;
- :func:`differential`: the map ``K -> A K W``, with :func:`vjp` its adjoint.

:func:`jacobian` differentiates any matrix function numerically, and
:func:`check_derivative` tells whether a claimed derivative is right and, if not, why.
Second derivatives: :func:`hessian` and :func:`hvp` (the Hessian-vector product) compute
them numerically, and :func:`check_second_derivative` checks a claimed one.

:func:`derive` derives a sympy matrix expression of your own, step by step, in the three
forms, each checked numerically (sympy is loaded on first use).

Conventions: Jacobians put output indices first (``f(X).shape + X.shape``), and
:func:`vec` stacks columns.
"""

from typing import TYPE_CHECKING, Any

from mdcalc import layouts, notation
from mdcalc.check import CheckResult, check_derivative, self_check
from mdcalc.componentwise import jacobian_tensor
from mdcalc.differential import Derivative, differential, vjp
from mdcalc.numeric import directional_derivative, jacobian
from mdcalc.second_order import check_second_derivative, hessian, hvp
from mdcalc.vectorization import (
    basis_matrix,
    kron_jacobian,
    matrix_to_tensor,
    tensor_to_matrix,
    unvec,
    vec,
)
from mdcalc import structure
from mdcalc.vectorization import duplication_matrix, elimination_matrix, unvech, vech

if TYPE_CHECKING:
    from mdcalc.derivation import Derivation, derive

__all__ = [
    "CheckResult",
    "Derivation",
    "Derivative",
    "derive",
    "basis_matrix",
    "check_derivative",
    "check_second_derivative",
    "differential",
    "directional_derivative",
    "hessian",
    "hvp",
    "jacobian",
    "jacobian_tensor",
    "kron_jacobian",
    "layouts",
    "notation",
    "matrix_to_tensor",
    "tensor_to_matrix",
    "self_check",
    "unvec",
    "vec",
    "vjp",
    "structure",
    "vech",
    "unvech",
    "duplication_matrix",
    "elimination_matrix",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # derive and Derivation need sympy: import them (and sympy) on first use only.
    if name in ("derive", "Derivation"):
        from mdcalc import derivation

        return getattr(derivation, name)
    raise AttributeError(f"module 'mdcalc' has no attribute {name!r}")
