//! History is never rewritten: after a naive run oversold, a restock does not make the
//! audit pass again, and a later run reports its own figures — saying once, apart, that
//! the sale was already damaged — without failing for an oversell it did not cause.

mod common;

use common::{json_of as json, run_bin as flashsale};

#[test]
fn a_later_run_reports_its_own_figures_and_the_oversell_stays() {
    let dir = tempfile::tempdir().unwrap();
    let o = flashsale(
        dir.path(),
        &[
            "swarm",
            "--strategy",
            "naive",
            "--stock",
            "20",
            "--buyers",
            "300",
            "--json",
        ],
    );
    let naive = json(&o);
    let excess = naive["oversold"].as_i64().unwrap();
    assert!(excess > 0, "{naive}");
    assert_eq!(naive["oversold_before"], 0);

    // A safe run on the damaged sale, restocked to 50.
    let o = flashsale(
        dir.path(),
        &[
            "swarm",
            "--stock",
            "50",
            "--buyers",
            "100",
            "--json",
            "--fail-on-oversell",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "this run oversold nothing");
    let safe = json(&o);
    assert_eq!(safe["sold"], 50, "{safe}");
    assert_eq!(safe["oversold"], 0, "{safe}");
    assert_eq!(safe["oversold_before"], excess, "{safe}");
    let outcomes = &safe["buyer_outcomes"];
    assert_eq!(outcomes["paid"], 50);
    assert_eq!(outcomes["turned_away"], 50);

    // The text says it once, apart, and does not claim this run oversold.
    let o = flashsale(dir.path(), &["swarm", "--stock", "5", "--buyers", "10"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(!text.contains("OVERSOLD"), "{text}");
    assert_eq!(
        text.matches(&format!("already oversold by {excess} units"))
            .count(),
        1,
        "{text}"
    );

    // The restocks did not fold the oversell into the total: the audit still fails.
    let o = flashsale(dir.path(), &["audit"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("by {excess}")), "{text}");
}
