import kolot.devstack


def test_public_api_is_what_all_says() -> None:
    assert set(kolot.devstack.__all__) == {
        "DEFAULT_PORTS",
        "SERVICE_NAMES",
        "DevstackError",
        "LocalStack",
        "MongoServer",
        "NatsServer",
        "ServiceGroup",
        "ServiceProcess",
        "free_port",
    }
    for name in kolot.devstack.__all__:
        assert getattr(kolot.devstack, name) is not None


def test_kolot_is_a_namespace_package() -> None:
    import kolot

    assert getattr(kolot, "__file__", None) is None
