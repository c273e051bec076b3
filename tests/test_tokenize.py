from logsense.mine.merge import merge_templates
from logsense.mine.templates import TemplateTree
from logsense.mine.tokenize import render, shape


def test_words_and_separators() -> None:
    layout = shape("[instance: <*>] Took <*> seconds, uid=<*>")
    assert layout.words == ("instance", "<*>", "Took", "<*>", "seconds", "uid", "<*>")
    assert layout.gaps == ("[", ": ", "] ", " ", " ", ", ", "=", "")


def test_drain_sees_only_the_unmasked_words() -> None:
    assert shape("delete <*> <*> <*> from <*>").drain_text == "delete from"
    assert shape("state=RUNNING, uid=<*>").drain_text == "state RUNNING uid"


def test_render_puts_drain_words_back_and_merges_adjacent_variables() -> None:
    layout = shape("session opened for user root by (uid=<*>)")
    drain_words = ["session", "opened", "for", "user", "<*>", "by", "uid"]
    assert render(layout, drain_words) == "session opened for user <*> by (uid=<*>)"
    assert render(shape("ask <*> to delete <*> <*> <*>"), ["ask", "to", "delete"]) == (
        "ask <*> to delete <*>"
    )


def test_a_template_covers_the_ones_it_generalizes() -> None:
    merged = merge_templates({1: "session opened for user <*>", 2: "session opened for user root"})
    assert merged == {1: "session opened for user <*>", 2: "session opened for user <*>"}


def test_a_word_with_many_values_is_a_variable() -> None:
    users = ["cyrus", "news", "test", "root"]
    merged = merge_templates({i: f"session closed for user {u}" for i, u in enumerate(users)})
    assert set(merged.values()) == {"session closed for user <*>"}


def test_a_word_with_few_values_is_an_event() -> None:
    templates = {1: "VM Paused (Lifecycle Event)", 2: "VM Resumed (Lifecycle Event)"}
    assert merge_templates(templates) == templates
    first_words = {
        i: f"{w} (command <*>)" for i, w in enumerate(["boot", "wait", "halt", "risBoot"])
    }
    assert merge_templates(first_words) == first_words


def test_values_seen_in_one_template_are_values_in_another() -> None:
    closed = {
        i: f"session closed for user {u}" for i, u in enumerate(["cyrus", "news", "test", "a"])
    }
    opened = {10 + i: f"session opened for user {u} by" for i, u in enumerate(["cyrus", "news"])}
    merged = merge_templates(closed | opened)
    assert merged[10] == merged[11] == "session opened for user <*> by"


def test_tree_clusters_masked_messages_and_renders_templates() -> None:
    tree = TemplateTree(depth=4, sim_th=0.9, max_children=100)
    users = ["cyrus", "news", "test", "root", "cyrus"]
    ids = [tree.add(f"session closed for user {user}") for user in users]
    other = tree.add("Link error on broadcast tree Interconnect-<*>")
    assert {tree.template(cid) for cid in ids} == {"session closed for user <*>"}
    assert tree.template(other) == "Link error on broadcast tree Interconnect-<*>"
