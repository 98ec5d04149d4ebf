//! TTY callers without a relay. The product's modem against an independent one written
//! for the tests (`tty_peer`, which shares no tables or filters with it): each one's
//! audio printed right by the other, in both directions.

use crate::tty_peer as peer;

use caseline::tty::modem::{Demodulator, Modulator};

const EVERYTHING: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 -$',!:(\")?./; GA";

fn product_hears(audio: &[u8]) -> String {
    let mut d = Demodulator::new();
    for frame in audio.chunks(160) {
        d.push(frame);
    }
    d.take_text()
}

#[test]
fn the_product_s_audio_prints_right_on_an_independent_tty() {
    let mut m = Modulator::default();
    let audio = m.transmit(EVERYTHING);
    // Sent at -14 dBm0, as measured by the other side.
    let level = peer::level_dbm0(&audio[..1200]);
    assert!((-14.5..=-13.5).contains(&level), "{level}");
    assert_eq!(peer::decode(&audio), EVERYTHING);
    // Figures after a space are shifted again; lower case goes up; # and & spelled.
    assert_eq!(
        peer::decode(&m.transmit("press 1 for $12 50 # & more")),
        "PRESS 1 FOR $12 50 NBR AND MORE"
    );
}

#[test]
fn an_independent_tty_prints_right_on_the_product() {
    let mut tx = peer::Transmitter::default();
    assert_eq!(product_hears(&tx.send(EVERYTHING)), EVERYTHING);
    for (stop, drift) in [
        (2.0, 0.0),
        (1.5, 0.02),
        (1.5, -0.02),
        (2.0, 0.02),
        (2.0, -0.02),
    ] {
        let mut tx = peer::Transmitter::new(-14.0)
            .with_stop_bits(stop)
            .with_rate_error(drift);
        assert_eq!(
            product_hears(&tx.send("SSN 123 45 6789 GA")),
            "SSN 123 45 6789 GA",
            "stop bits {stop}, drift {drift}"
        );
    }
}

#[test]
fn a_quiet_tty_in_noise_and_the_silence_between_turns() {
    for seed in 1..=4 {
        let mut tx = peer::Transmitter::new(-30.0);
        let audio = peer::add_white_noise(&tx.send("PAR 4820193757 GA"), -45.0, seed);
        assert_eq!(product_hears(&audio), "PAR 4820193757 GA", "seed {seed}");
    }
    assert_eq!(product_hears(&peer::silence(2000)), "");
    assert_eq!(
        product_hears(&peer::add_white_noise(&peer::silence(2000), -45.0, 9)),
        ""
    );
}
