"""The public API listed in diagnostics.__all__ is complete and importable."""

from __future__ import annotations

import diagnostics


def test_every_name_in_all_is_importable() -> None:
    for name in diagnostics.__all__:
        assert getattr(diagnostics, name) is not None, name


def test_all_lists_every_public_class_of_the_contract_and_model() -> None:
    import diagnostics.contract as contract
    import diagnostics.errors as errors
    import diagnostics.model as model

    public = {
        name
        for module in (contract, errors, model)
        for name, value in vars(module).items()
        if isinstance(value, type) and value.__module__ == module.__name__ and not name.startswith("_")
    }
    assert public <= set(diagnostics.__all__), public - set(diagnostics.__all__)
