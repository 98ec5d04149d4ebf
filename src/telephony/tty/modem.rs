//! The TTY modem: US TTY (TIA-825-A) FSK at 45.45 baud over 8 kHz μ-law audio. Text in,
//! audio out ([`Modulator`]); audio in, text out ([`Demodulator`]). It knows nothing of
//! calls or streams.
//!
//! Mark (1) is 1400 Hz, space (0) 1800 Hz; a bit is 22 ms (176 samples); a character is a
//! start bit (space), five data bits least significant first and stop bits (mark), with
//! the phase continuous across bit changes. We send 2 stop bits, as spandsp's TDD sender
//! does: receivers that expect 2 (minimodem's `tdd`) misread 1.5, and those that expect
//! 1.5 read 2 as a little idle mark. A transmission opens with 150 ms of
//! mark and holds mark 300 ms after its last character, at -14 dBm0.
//!
//! The receiver correlates the audio with both tones over a sliding half-bit window (in
//! integers, so it never drifts), calls the louder tone the bit, and frames characters
//! from the mark-to-space edge of each start bit, reading each bit at its middle. A
//! half-bit window leaves a quarter bit of slack on each side, which covers a caller's
//! clock off by a few per cent over a character; 1.5 or 2 stop bits both work. Audio
//! under about -36 dBm0 is not a signal, so silence and line noise print nothing.

use super::baudot::{self, Decoder};
use super::mulaw;

pub const SAMPLE_RATE: usize = 8000;
/// Samples per bit at 45.45 baud.
pub const BIT: usize = 176;
/// Samples of the 2 stop bits we send (we read 1.5 or more).
const STOP: usize = BIT * 2;
/// Mark before the first character (150 ms) and after the last (300 ms).
const LEADER: usize = 1200;
const HOLD: usize = 2400;
pub const MARK_HZ: f64 = 1400.0;
pub const SPACE_HZ: f64 = 1800.0;
/// The level we send at.
pub const TX_DBM0: f64 = -14.0;
/// The quietest signal we take for one (the standard asks for -30 dBm0).
const RX_FLOOR_DBM0: f64 = -36.0;
/// Both tones repeat exactly every 40 samples at 8 kHz (7 and 9 cycles).
const PERIOD: usize = 40;
/// The correlation window: half a bit.
const WINDOW: usize = BIT / 2;
/// Fixed-point scale of the reference tones.
const ONE: f64 = 16384.0;

/// The peak of a sine at `dbm0` on the 16-bit linear scale μ-law decodes to (a full-scale
/// μ-law sine, peak 8,159 on the 14-bit scale, is +3.17 dBm0).
pub fn peak(dbm0: f64) -> f64 {
    32_636.0 * 10f64.powf((dbm0 - 3.17) / 20.0)
}

/// Audio samples of a whole number of samples at 8 kHz, as μ-law.
pub fn to_mulaw(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|s| mulaw::encode(*s)).collect()
}

/// Sends text as FSK audio, keeping the phase from one call to the next.
#[derive(Debug, Clone)]
pub struct Modulator {
    phase: f64,
    amplitude: f64,
}

impl Default for Modulator {
    fn default() -> Self {
        Modulator::at(TX_DBM0)
    }
}

impl Modulator {
    /// A modulator sending at `dbm0`.
    pub fn at(dbm0: f64) -> Modulator {
        Modulator {
            phase: 0.0,
            amplitude: peak(dbm0),
        }
    }

    fn tone(&mut self, hz: f64, samples: usize, out: &mut Vec<i16>) {
        let step = std::f64::consts::TAU * hz / SAMPLE_RATE as f64;
        for _ in 0..samples {
            out.push((self.amplitude * self.phase.sin()).round() as i16);
            self.phase = (self.phase + step) % std::f64::consts::TAU;
        }
    }

    /// One transmission: the leader, `text` as TTY characters (see
    /// [`baudot::encode`]), the hold; as linear samples.
    pub fn samples(&mut self, text: &str) -> Vec<i16> {
        let codes = baudot::encode(text);
        let mut out = Vec::with_capacity(LEADER + HOLD + codes.len() * (BIT * 6 + STOP));
        self.tone(MARK_HZ, LEADER, &mut out);
        for code in codes {
            self.tone(SPACE_HZ, BIT, &mut out);
            for bit in 0..5 {
                let hz = if code >> bit & 1 == 1 {
                    MARK_HZ
                } else {
                    SPACE_HZ
                };
                self.tone(hz, BIT, &mut out);
            }
            self.tone(MARK_HZ, STOP, &mut out);
        }
        self.tone(MARK_HZ, HOLD, &mut out);
        out
    }

    /// One transmission as μ-law bytes, ready for the media stream.
    pub fn transmit(&mut self, text: &str) -> Vec<u8> {
        to_mulaw(&self.samples(text))
    }
}

/// Where the receiver is in a character.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// Waiting for a start bit's edge.
    Idle,
    /// In a character whose start edge showed at sample `edge`; `code` so far, and the
    /// mark and space energies gathered for the bit being read.
    In {
        edge: u64,
        bit: usize,
        code: u8,
        votes: [f64; 2],
    },
}

/// Receives FSK audio and prints the characters it carries.
pub struct Demodulator {
    /// Reference tones, one period: (mark cos, mark sin, space cos, space sin).
    refs: [[i32; 4]; PERIOD],
    /// The last `WINDOW` products, and their sums.
    ring: Vec<[i64; 4]>,
    sums: [i64; 4],
    /// Samples seen.
    n: u64,
    /// The last sample that was mark with a signal.
    last_mark: Option<u64>,
    threshold: f64,
    frame: Frame,
    decoder: Decoder,
    text: String,
}

impl Default for Demodulator {
    fn default() -> Self {
        Demodulator::new()
    }
}

impl Demodulator {
    pub fn new() -> Demodulator {
        let mut refs = [[0; 4]; PERIOD];
        for (i, r) in refs.iter_mut().enumerate() {
            let t = i as f64 / SAMPLE_RATE as f64;
            let (m, s) = (
                std::f64::consts::TAU * MARK_HZ * t,
                std::f64::consts::TAU * SPACE_HZ * t,
            );
            *r = [
                (m.cos() * ONE).round() as i32,
                (m.sin() * ONE).round() as i32,
                (s.cos() * ONE).round() as i32,
                (s.sin() * ONE).round() as i32,
            ];
        }
        // A tone of amplitude A correlates to about A * WINDOW / 2 (times the scale).
        let floor = peak(RX_FLOOR_DBM0) * WINDOW as f64 / 2.0 * ONE;
        Demodulator {
            refs,
            ring: vec![[0; 4]; WINDOW],
            sums: [0; 4],
            n: 0,
            last_mark: None,
            threshold: floor * floor,
            frame: Frame::Idle,
            decoder: Decoder::default(),
            text: String::new(),
        }
    }

    /// Forgets any character under way (after our own transmission, whose echo was
    /// not listened to); the shift is kept.
    pub fn reset(&mut self) {
        self.ring.iter_mut().for_each(|r| *r = [0; 4]);
        self.sums = [0; 4];
        self.last_mark = None;
        self.frame = Frame::Idle;
    }

    /// Takes μ-law audio, any amount at a time.
    pub fn push(&mut self, audio: &[u8]) {
        for b in audio {
            self.sample(mulaw::decode(*b));
        }
    }

    /// Takes linear samples.
    pub fn push_samples(&mut self, samples: &[i16]) {
        for s in samples {
            self.sample(*s);
        }
    }

    /// The characters received since the last call.
    pub fn take_text(&mut self) -> String {
        std::mem::take(&mut self.text)
    }

    fn sample(&mut self, s: i16) {
        let slot = (self.n % WINDOW as u64) as usize;
        let r = self.refs[(self.n % PERIOD as u64) as usize];
        let s = i64::from(s);
        let product = [
            s * i64::from(r[0]),
            s * i64::from(r[1]),
            s * i64::from(r[2]),
            s * i64::from(r[3]),
        ];
        let old = self.ring[slot];
        for k in 0..4 {
            self.sums[k] += product[k] - old[k];
        }
        self.ring[slot] = product;
        let n = self.n;
        self.n += 1;

        let energy = |i: usize, q: usize| {
            let (a, b) = (self.sums[i] as f64, self.sums[q] as f64);
            a * a + b * b
        };
        let (mark, space) = (energy(0, 1), energy(2, 3));
        let signal = mark.max(space) > self.threshold;
        let is_mark = signal && mark >= space;
        let is_space = signal && space > mark;

        match self.frame {
            Frame::Idle => {
                // Mark, then space: a start bit. Where the tones cross, a quiet signal
                // may dip under the floor for a moment, so "then" allows a few samples.
                let after_mark = self.last_mark.is_some_and(|m| n - m <= (WINDOW / 4) as u64);
                if is_space && after_mark {
                    self.frame = Frame::In {
                        edge: n,
                        bit: 0,
                        code: 0,
                        votes: [0.0; 2],
                    };
                }
            }
            Frame::In {
                edge,
                bit,
                code,
                votes,
            } => {
                // Each bit is judged from three windows around its middle (the energies
                // added up), a third of a window apart. Between bits each tone fills
                // only part of a window, so the signal is judged there, not in between.
                let middle = edge + (WINDOW + bit * BIT) as u64;
                let spread = (WINDOW / 3) as u64;
                if n + spread == middle || n == middle {
                    self.frame = Frame::In {
                        edge,
                        bit,
                        code,
                        votes: [votes[0] + mark, votes[1] + space],
                    };
                } else if n == middle + spread {
                    let (m, sp) = (votes[0] + mark, votes[1] + space);
                    let signal = m.max(sp) > 3.0 * self.threshold;
                    let one = m >= sp;
                    self.frame = match bit {
                        _ if !signal => Frame::Idle,
                        0 if one => Frame::Idle,
                        0 => Frame::In {
                            edge,
                            bit: 1,
                            code,
                            votes: [0.0; 2],
                        },
                        1..=5 => Frame::In {
                            edge,
                            bit: bit + 1,
                            code: code | (u8::from(one) << (bit - 1)),
                            votes: [0.0; 2],
                        },
                        _ => {
                            // The stop bit must be mark; otherwise a framing error.
                            if one && let Some(c) = self.decoder.decode(code) {
                                self.text.push(c);
                            }
                            Frame::Idle
                        }
                    };
                }
            }
        }
        if is_mark {
            self.last_mark = Some(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic noise source (xorshift), for repeatable tests.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        }
    }

    fn receive(audio: &[u8]) -> String {
        let mut d = Demodulator::new();
        // In media-stream frames of 20 ms.
        for frame in audio.chunks(160) {
            d.push(frame);
        }
        d.take_text()
    }

    /// A transmission built by hand, not by the modulator: each bit a whole tone of
    /// `bit` samples (phase continuous), `stop` stop-bit samples, at `dbm0`.
    fn by_hand(codes: &[u8], bit: f64, stop_bits: f64, dbm0: f64) -> Vec<f64> {
        let a = peak(dbm0);
        let mut out = Vec::new();
        let mut phase = 0.0f64;
        let mut carry = 0.0;
        let mut tone = |hz: f64, len: f64, out: &mut Vec<f64>| {
            let total = len + carry;
            let n = total.floor() as usize;
            carry = total - n as f64;
            for _ in 0..n {
                out.push(a * phase.sin());
                phase += std::f64::consts::TAU * hz / 8000.0;
            }
        };
        tone(MARK_HZ, 1200.0, &mut out);
        for code in codes {
            tone(SPACE_HZ, bit, &mut out);
            for b in 0..5 {
                tone(
                    if code >> b & 1 == 1 {
                        MARK_HZ
                    } else {
                        SPACE_HZ
                    },
                    bit,
                    &mut out,
                );
            }
            tone(MARK_HZ, bit * stop_bits, &mut out);
        }
        tone(MARK_HZ, 2400.0, &mut out);
        out
    }

    fn quantise(samples: &[f64]) -> Vec<u8> {
        samples
            .iter()
            .map(|s| mulaw::encode(s.round().clamp(-32768.0, 32767.0) as i16))
            .collect()
    }

    #[test]
    fn the_waveform_is_the_standard_one() {
        let mut m = Modulator::default();
        let s = m.samples("E");
        // Leader, LTRS, E, hold: 1200 + 2 x 1408 + 2400 samples (a character is 8
        // bits: start, five data, two stop).
        assert_eq!(s.len(), 1200 + 2 * 1408 + 2400);
        // -14 dBm0 peaks near 32636 x 10^(-17.17/20) = 4,52x.
        let top = s.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        assert!((4490..=4560).contains(&top), "{top}");
        // Continuous phase: no jump bigger than one step of the faster tone.
        let max_step = peak(TX_DBM0) * (std::f64::consts::TAU * SPACE_HZ / 8000.0) + 2.0;
        for w in s.windows(2) {
            assert!(f64::from(w[1] - w[0]).abs() <= max_step, "{w:?}");
        }
        // The start bit of LTRS (sample 1200 on) is space: 1800 Hz, 9 cycles in 40
        // samples, so it equals itself 40 samples on and not 20.
        let start = &s[1200 + 10..1200 + 150];
        for i in 0..90 {
            assert!((start[i] - start[i + 40]).abs() <= 2);
        }
    }

    #[test]
    fn every_character_comes_back() {
        let text = "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 -$',!:(\")?./; GA";
        let mut m = Modulator::default();
        assert_eq!(receive(&m.transmit(text)), text);
    }

    #[test]
    fn a_hand_made_signal_with_two_stop_bits_and_a_drifting_clock() {
        let codes = baudot::encode("SSN 123 45 6789 GA");
        for (bit, stop) in [
            (176.0, 1.5),
            (176.0, 2.0),
            (176.0 * 1.02, 1.5),
            (176.0 * 0.98, 2.0),
        ] {
            let audio = quantise(&by_hand(&codes, bit, stop, -14.0));
            assert_eq!(
                receive(&audio),
                "SSN 123 45 6789 GA",
                "bit {bit}, stop {stop}"
            );
        }
    }

    #[test]
    fn a_quiet_caller_in_noise_and_silence_prints_nothing() {
        let codes = baudot::encode("HELLO 42 HELLO 42");
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        // -30 dBm0 against noise at about -43 dBm0 (uniform, so its power is under its
        // peak's), several noise runs.
        let n_amp = peak(-41.0);
        for _ in 0..4 {
            let audio: Vec<f64> = by_hand(&codes, 176.0, 1.5, -30.0)
                .into_iter()
                .map(|s| s + n_amp * noise.next())
                .collect();
            assert_eq!(receive(&quantise(&audio)), "HELLO 42 HELLO 42");
        }
        // Silence, and noise alone, print nothing.
        assert_eq!(receive(&vec![0xFF; 16_000]), "");
        let hiss: Vec<f64> = (0..16_000).map(|_| peak(-40.0) * noise.next()).collect();
        assert_eq!(receive(&quantise(&hiss)), "");
    }

    #[test]
    fn frames_of_any_size_and_a_reset_mid_character() {
        let mut m = Modulator::default();
        let audio = m.transmit("AB");
        let mut d = Demodulator::new();
        for chunk in audio.chunks(37) {
            d.push(chunk);
        }
        assert_eq!(d.take_text(), "AB");
        // Half a character, then a reset (our own echo cut off), then a whole one.
        let half = m.transmit("Q");
        d.push(&half[..1200 + 1320 + 600]);
        d.reset();
        d.push(&m.transmit("Z"));
        assert_eq!(d.take_text(), "Z");
    }
}
