from logsense.mine.stacktrace import fingerprint

JAVA = """java.lang.NullPointerException: Cannot invoke "String.length()" because "sku" is null
\tat com.example.orders.PricingService.price(PricingService.java:88)
\tat com.example.orders.CartController.total(CartController.java:41)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)
\tat com.example.orders.Main.run(Main.java:12)
Caused by: java.lang.IllegalStateException: cache not warmed
\tat com.example.orders.SkuCache.get(SkuCache.java:20)
\t... 12 more"""

PYTHON = """Unhandled error
Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/flask/app.py", line 1, in wsgi_app
  File "/srv/app/orders/views.py", line 42, in checkout
  File "/srv/app/orders/pricing.py", line 7, in price
KeyError: 'sku'"""


def test_java_fingerprint_is_exception_chain_and_top_in_app_frames() -> None:
    assert fingerprint(JAVA) == (
        "java.lang.NullPointerException<java.lang.IllegalStateException"
        "|com.example.orders.PricingService.price|com.example.orders.CartController.total"
        "|com.example.orders.Main.run"
    )


def test_line_numbers_do_not_change_the_fingerprint() -> None:
    assert fingerprint(JAVA) == fingerprint(JAVA.replace(":88)", ":90)"))


def test_python_fingerprint_starts_at_the_innermost_in_app_frame() -> None:
    assert fingerprint(PYTHON) == "KeyError|pricing.price|views.checkout"


def test_no_trace_no_fingerprint() -> None:
    assert fingerprint("just a message\nand another line") is None
