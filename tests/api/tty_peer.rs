//! A TTY on the far end of the line: a US TTY ("Baudot", TIA-825-A 45.45 Bd FSK)
//! transmitter and receiver working on 8 kHz G.711 μ-law audio, plus the μ-law codec.
//!
//! This is an independent implementation written only for the tests. It shares no table,
//! filter or timing code with the product's modem (src/tty/), so the product is checked
//! against a second reading of the public facts rather than against itself. Sources:
//! /work/shared/reference/telephony-facts.md §1 (1400 Hz mark = 1, 1800 Hz space = 0;
//! 22 ms = 176-sample bits; 1 start bit, 5 data bits LSB first, 1.5 stop bits; ~150 ms
//! of mark before the first character and ~300 ms after the last; continuous phase;
//! −14 dBm0 transmit, −30 dBm0 minimum receive; LTRS 0x1F, FIGS 0x1B, the US-TTY
//! figures table, unshift on space), cross-checked against the US figures column of
//! W7AY cocoaModem `Baudot.h`; and ITU-T G.711 for μ-law (bias 0x84, clip 32635,
//! inverted code words, full-scale sine = +3.17 dBm0).
//!
//! **Level convention.** Linear samples are on the 16-bit scale that [`mulaw_decode`]
//! returns (G.711's 14-bit values × 4; the largest decoded value is ±32124). G.711
//! puts μ-law's largest sine, peak 8159 × 4 = 32636 on this scale, at +3.17 dBm0. So a
//! 0 dBm0 sine has peak 32636 · 10^(−3.17/20) ≈ 22657 (RMS ≈ 16021); see
//! [`dbm0_to_peak`]. The μ-law digital milliwatt (bytes 1E 0B 0B 1E 9E 8B 8B 9E, the
//! 0 dBm0 reference tone) measures 0.00 dBm0 on this scale (test
//! `digital_milliwatt_measures_zero_dbm0`). Calling a peak of 8159 (14-bit) "0 dBm0"
//! would put every level 3.17 dB higher than G.711 does.
//!
//! **Frames.** [`Receiver::push`] takes μ-law bytes in chunks of any size (160-byte
//! 20 ms media frames, single bytes, whole calls) and works sample by sample, so chunk
//! boundaries change nothing. A character appears in [`Receiver::take_text`] once its
//! stop bit has been checked, about 155 ms after its start bit began, so push at least
//! ~10 ms of audio after the last stop bit (the transmitter's 300 ms mark hold does this).
#![allow(dead_code)]

use std::f64::consts::PI;

/// Samples per second of the μ-law audio.
pub const SAMPLE_RATE: f64 = 8000.0;
/// Mark (binary 1, idle) frequency.
pub const MARK_HZ: f64 = 1400.0;
/// Space (binary 0, start bit) frequency.
pub const SPACE_HZ: f64 = 1800.0;
/// One 45.45 Bd bit (22 ms) at 8 kHz.
pub const BIT_SAMPLES: f64 = 176.0;
/// Shift to letters.
pub const LTRS: u8 = 0x1F;
/// Shift to figures.
pub const FIGS: u8 = 0x1B;
/// Space, carriage return and line feed: the same code in both shifts.
pub const CODE_SPACE: u8 = 0x04;
pub const CODE_CR: u8 = 0x08;
pub const CODE_LF: u8 = 0x02;
/// The default transmit level (spandsp's "Weitbrecht 45.45" preset).
pub const DEFAULT_TX_DBM0: f64 = -14.0;

/// Mark sent before the first character (~150 ms) and after the last (~300 ms).
const LEADER_SAMPLES: f64 = 1200.0;
const HOLD_SAMPLES: f64 = 2400.0;

// ---------------------------------------------------------------------------------
// G.711 μ-law and levels
// ---------------------------------------------------------------------------------

const MULAW_BIAS: i32 = 0x84;
const MULAW_CLIP: i32 = 32635;
/// Peak of μ-law's largest sine on the 16-bit scale (8159 on G.711's 14-bit scale).
const MULAW_FULL_SCALE_PEAK: f64 = 8159.0 * 4.0;
/// G.711's level of that sine.
const MULAW_FULL_SCALE_DBM0: f64 = 3.17;

/// G.711 μ-law: a 16-bit linear sample to its code word (sign, 3-bit segment, 4-bit
/// step, all bits inverted). The magnitude is clipped to 32635 and biased by 0x84 so
/// that the segment is the position of the highest set bit above bit 7.
pub fn mulaw_encode(sample: i16) -> u8 {
    let value = i32::from(sample);
    let sign: u8 = if value < 0 { 0x80 } else { 0 };
    let biased = value.abs().min(MULAW_CLIP) + MULAW_BIAS; // 132 ..= 32767
    let top_bit = 31 - biased.leading_zeros(); // 7 ..= 14
    let segment = (top_bit - 7) as u8;
    let step = ((biased >> (segment + 3)) & 0x0F) as u8;
    !(sign | (segment << 4) | step)
}

/// G.711 μ-law: a code word to the 16-bit linear value at the middle of its step.
pub fn mulaw_decode(byte: u8) -> i16 {
    let code = !byte;
    let segment = (code >> 4) & 0x07;
    let step = i32::from(code & 0x0F);
    let magnitude = (((step << 3) + MULAW_BIAS) << segment) - MULAW_BIAS; // 0 ..= 32124
    let value = if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    };
    value as i16
}

/// Peak amplitude, on the 16-bit linear scale, of a sine at `dbm0` (see the module doc).
pub fn dbm0_to_peak(dbm0: f64) -> f64 {
    MULAW_FULL_SCALE_PEAK * 10f64.powf((dbm0 - MULAW_FULL_SCALE_DBM0) / 20.0)
}

/// The power of μ-law audio in dBm0 (a sine of peak [`dbm0_to_peak`]`(x)` gives x).
/// Empty or all-zero audio gives negative infinity.
pub fn level_dbm0(mulaw: &[u8]) -> f64 {
    if mulaw.is_empty() {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = mulaw
        .iter()
        .map(|&b| {
            let x = f64::from(mulaw_decode(b));
            x * x
        })
        .sum();
    let mean_square = sum / mulaw.len() as f64;
    let reference = dbm0_to_peak(0.0) * dbm0_to_peak(0.0) / 2.0;
    10.0 * (mean_square / reference).log10()
}

/// `ms` milliseconds of μ-law silence (code 0xFF, +0).
pub fn silence(ms: usize) -> Vec<u8> {
    vec![0xFF; ms * 8]
}

/// A small deterministic pseudo-random generator (xorshift64*), so tests need no crate.
pub struct NoiseRng(u64);

impl NoiseRng {
    pub fn new(seed: u64) -> Self {
        // Any non-zero state works; mix the seed so small seeds differ quickly.
        NoiseRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f64 {
        let r = (-2.0 * self.uniform().ln()).sqrt();
        r * (2.0 * PI * self.uniform()).cos()
    }
}

/// `mulaw` with white Gaussian noise of power `dbm0` added (re-encoded to μ-law).
pub fn add_white_noise(mulaw: &[u8], dbm0: f64, seed: u64) -> Vec<u8> {
    let rms = dbm0_to_peak(dbm0) / 2f64.sqrt();
    let mut rng = NoiseRng::new(seed);
    mulaw
        .iter()
        .map(|&b| {
            let x = f64::from(mulaw_decode(b)) + rms * rng.gaussian();
            mulaw_encode(to_i16(x))
        })
        .collect()
}

fn to_i16(x: f64) -> i16 {
    x.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

// ---------------------------------------------------------------------------------
// The US-TTY code
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shift {
    Letters,
    Figures,
}

impl Shift {
    fn code(self) -> u8 {
        match self {
            Shift::Letters => LTRS,
            Shift::Figures => FIGS,
        }
    }
}

/// Letters shift, by code; '\0' marks codes that print nothing (NUL, FIGS, LTRS).
const LETTERS: [char; 32] = [
    '\0', 'E', '\n', 'A', ' ', 'S', 'I', 'U', //
    '\r', 'D', 'R', 'J', 'N', 'F', 'C', 'K', //
    'T', 'Z', 'L', 'W', 'H', 'Y', 'P', 'Q', //
    'O', 'B', 'G', '\0', 'M', 'X', 'V', '\0',
];

/// Figures shift, US-TTY (not ITA2): 05 BELL, 09 $, 0B ', 0D !, 11 ", 14 #, 1A &, 1E ;.
const FIGURES: [char; 32] = [
    '\0', '3', '\n', '-', ' ', '\u{7}', '8', '7', //
    '\r', '$', '4', '\'', ',', '!', ':', '(', //
    '5', '"', ')', '2', '#', '6', '0', '1', //
    '9', '?', '&', '\0', '.', '/', ';', '\0',
];

/// The code of one character and the shift it needs (None: the same in both shifts).
fn lookup(c: char) -> Option<(u8, Option<Shift>)> {
    match c {
        ' ' => Some((CODE_SPACE, None)),
        '\r' => Some((CODE_CR, None)),
        '\n' => Some((CODE_LF, None)),
        '\0' => None,
        _ => {
            let c = c.to_ascii_uppercase();
            let find = |table: &[char; 32]| table.iter().position(|&t| t == c);
            if let Some(code) = find(&LETTERS) {
                Some((code as u8, Some(Shift::Letters)))
            } else {
                find(&FIGURES).map(|code| (code as u8, Some(Shift::Figures)))
            }
        }
    }
}

/// The 5-bit codes [`Transmitter::send`] sends for `text`, shifts included.
///
/// It starts with an explicit shift (the one the first shifted character needs, else
/// LTRS). Lower case goes as upper case; a character Baudot cannot carry is skipped;
/// `\n` and `\r\n` go as CR LF, a lone `\r` as CR, BEL as FIGS 05. After a space sent
/// in figures, receivers that unshift on space are in letters and others still in
/// figures, so the next shifted character always gets an explicit shift (FIGS before
/// a figure, LTRS before a letter); after a space in letters nothing is re-sent.
pub fn encode_text(text: &str) -> Vec<u8> {
    let mut symbols = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => symbols.extend([(CODE_CR, None), (CODE_LF, None)]),
            '\r' => {
                symbols.push((CODE_CR, None));
                if chars.peek() == Some(&'\n') {
                    chars.next();
                    symbols.push((CODE_LF, None));
                }
            }
            _ => symbols.extend(lookup(c)),
        }
    }
    let first = symbols
        .iter()
        .find_map(|&(_, shift)| shift)
        .unwrap_or(Shift::Letters);
    let mut codes = vec![first.code()];
    // The shift every receiver is known to be in; None when receivers may differ.
    let mut state = Some(first);
    for (code, needs) in symbols {
        if let Some(needed) = needs
            && state != Some(needed)
        {
            codes.push(needed.code());
            state = Some(needed);
        }
        codes.push(code);
        if code == CODE_SPACE && state == Some(Shift::Figures) {
            state = None;
        }
    }
    codes
}

// ---------------------------------------------------------------------------------
// Transmitter
// ---------------------------------------------------------------------------------

/// Sends text as a TTY does: mark leader, characters, mark hold, as 8 kHz μ-law.
pub struct Transmitter {
    peak: f64,
    stop_bits: f64,
    bit_samples: f64,
    /// Oscillator phase in radians, kept across bits and across calls to `send`.
    phase: f64,
}

impl Default for Transmitter {
    fn default() -> Self {
        Transmitter::new(DEFAULT_TX_DBM0)
    }
}

impl Transmitter {
    /// A transmitter at `amplitude_dbm0` (see the module doc for the scale), 1.5 stop
    /// bits, exact 45.45 Bd.
    pub fn new(amplitude_dbm0: f64) -> Self {
        Transmitter {
            peak: dbm0_to_peak(amplitude_dbm0),
            stop_bits: 1.5,
            bit_samples: BIT_SAMPLES,
            phase: 0.0,
        }
    }

    /// Stop bits per character: 1.5 by default, 2.0 as minimodem's `tdd` mode sends.
    pub fn with_stop_bits(mut self, bits: f64) -> Self {
        assert!((1.0..=3.0).contains(&bits), "stop bits {bits} out of 1..=3");
        self.stop_bits = bits;
        self
    }

    /// Every bit (and stop bit) `fraction` longer than 22 ms: +0.02 is 2 % slow,
    /// −0.02 is 2 % fast.
    pub fn with_rate_error(mut self, fraction: f64) -> Self {
        assert!(fraction.abs() < 0.5, "rate error {fraction} out of range");
        self.bit_samples = BIT_SAMPLES * (1.0 + fraction);
        self
    }

    /// The audio for `text` (see [`encode_text`] for what is sent).
    pub fn send(&mut self, text: &str) -> Vec<u8> {
        let codes = encode_text(text);
        self.send_codes(&codes)
    }

    /// The audio for raw 5-bit codes, sent as given (no shift added): ~150 ms mark,
    /// each code as start bit, 5 data bits LSB first and the stop bits, ~300 ms mark.
    pub fn send_codes(&mut self, codes: &[u8]) -> Vec<u8> {
        let per_char = self.bit_samples * (6.0 + self.stop_bits);
        let total = LEADER_SAMPLES + per_char * codes.len() as f64 + HOLD_SAMPLES;
        let mut out = Vec::with_capacity(total.ceil() as usize);
        // The ideal end of everything queued so far, in samples; bit edges fall on the
        // nearest sample, so fractional bit lengths do not accumulate an error.
        let mut clock = 0.0;
        self.tone(&mut out, &mut clock, MARK_HZ, LEADER_SAMPLES);
        for &code in codes {
            self.tone(&mut out, &mut clock, SPACE_HZ, self.bit_samples);
            for bit in 0..5 {
                let hz = if (code >> bit) & 1 == 1 {
                    MARK_HZ
                } else {
                    SPACE_HZ
                };
                self.tone(&mut out, &mut clock, hz, self.bit_samples);
            }
            self.tone(
                &mut out,
                &mut clock,
                MARK_HZ,
                self.bit_samples * self.stop_bits,
            );
        }
        self.tone(&mut out, &mut clock, MARK_HZ, HOLD_SAMPLES);
        out
    }

    fn tone(&mut self, out: &mut Vec<u8>, clock: &mut f64, hz: f64, samples: f64) {
        *clock += samples;
        let end = clock.round() as usize;
        let step = 2.0 * PI * hz / SAMPLE_RATE;
        while out.len() < end {
            out.push(mulaw_encode(to_i16(self.peak * self.phase.sin())));
            self.phase = (self.phase + step) % (2.0 * PI);
        }
    }
}

// ---------------------------------------------------------------------------------
// Receiver
// ---------------------------------------------------------------------------------

/// Sliding correlation window: 10 ms, which holds exactly 14 cycles of 1400 Hz and 18
/// of 1800 Hz, so each tone gives (nearly) nothing in the other's correlator.
const WINDOW: usize = 80;
/// e^(jωn) for both tones repeats every 40 samples (1400/8000 = 7/40, 1800/8000 = 9/40).
const PHASES: usize = 40;
const MARK_STEP: usize = 7;
const SPACE_STEP: usize = 9;
/// Per-sample decisions kept, enough for a whole character (1320 samples) and more.
const HISTORY: usize = 2048;
/// Mark or silence needed before a start bit's edge counts.
const MIN_IDLE_RUN: u32 = 40;
/// Share of the window's power that must be in the two tones (1.0 for a clean tone,
/// ~0.05 for white noise).
const MIN_TONE_FRACTION: f64 = 0.25;
/// Carrier threshold: the sum of the two tones' amplitudes, as a sine at this level.
/// TTYs must be heard from −30 dBm0; −40 dBm0 and below must not give characters.
const RX_THRESHOLD_DBM0: f64 = -36.0;
/// After a start bit out of silence, wait this long for the window to fill with the
/// start bit before working out where its edge was.
const FIND_EDGE_WAIT: u64 = 72;
/// How often the running correlations are recomputed exactly (against rounding drift).
const REFRESH_EVERY: u64 = 4096;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tone {
    Silence,
    Mark,
    Space,
}

#[derive(Clone, Copy, Debug)]
enum RxState {
    /// Waiting for a start bit.
    Idle,
    /// A start bit began out of silence at `detected` (detection time is level
    /// dependent); its edge is worked out once the window is full.
    FindEdge { detected: u64 },
    /// In a character whose start bit's edge was at `edge` (in decision time, where
    /// the mark/space decision changes half a window after the line does); `bit` is
    /// the next bit to check (0 start, 1..=5 data, 6 stop).
    Frame { edge: f64, bit: usize, code: u8 },
}

/// Decodes TTY audio: per-sample mark/space/silence decisions from two quadrature
/// correlators over a sliding 10 ms window, a UART on top (start bit edge, majority
/// vote over the middle half of each bit, stop bit check), and the LTRS/FIGS shift
/// with unshift on space.
pub struct Receiver {
    /// Index of the next sample.
    now: u64,
    /// The last WINDOW linear samples, by `time % WINDOW`.
    window: [f64; WINDOW],
    cos: [f64; PHASES],
    sin: [f64; PHASES],
    /// Running Σ x[n]·e^(jωn) over the window, for mark and space.
    mark: (f64, f64),
    space: (f64, f64),
    /// Running Σ x[n]² over the window (exact: integer-valued samples).
    energy: f64,
    threshold: f64,
    /// Per sample: the decision and the space tone's amplitude.
    history: Vec<(Tone, f32)>,
    prev: Tone,
    mark_run: u32,
    silence_run: u32,
    state: RxState,
    shift: Shift,
    text: String,
    framing_errors: usize,
    /// The stop bits the receiver requires mark for (1.5 unless told).
    stop_bits: f64,
}

impl Default for Receiver {
    fn default() -> Self {
        Receiver::new()
    }
}

impl Receiver {
    pub fn new() -> Self {
        let mut cos = [0.0; PHASES];
        let mut sin = [0.0; PHASES];
        for k in 0..PHASES {
            let angle = 2.0 * PI * k as f64 / PHASES as f64;
            cos[k] = angle.cos();
            sin[k] = angle.sin();
        }
        Receiver {
            now: 0,
            window: [0.0; WINDOW],
            cos,
            sin,
            mark: (0.0, 0.0),
            space: (0.0, 0.0),
            energy: 0.0,
            threshold: dbm0_to_peak(RX_THRESHOLD_DBM0),
            history: vec![(Tone::Silence, 0.0); HISTORY],
            prev: Tone::Silence,
            mark_run: 0,
            silence_run: 0,
            state: RxState::Idle,
            shift: Shift::Letters,
            text: String::new(),
            framing_errors: 0,
            stop_bits: 1.5,
        }
    }

    /// Feeds μ-law audio; any chunk size.
    pub fn push(&mut self, mulaw: &[u8]) {
        for &byte in mulaw {
            self.process(f64::from(mulaw_decode(byte)));
        }
    }

    /// The characters decoded since the last call: upper case, figures, ' ', and
    /// '\r', '\n', '\u{7}' (BELL) as received.
    pub fn take_text(&mut self) -> String {
        std::mem::take(&mut self.text)
    }

    /// Characters dropped so far because a bit lost the carrier or the stop bit was
    /// not mark.
    pub fn framing_errors(&self) -> usize {
        self.framing_errors
    }

    fn process(&mut self, x: f64) {
        let t = self.now;
        let slot = (t % WINDOW as u64) as usize;
        let old = self.window[slot];
        self.window[slot] = x;
        // The reference phase repeats every WINDOW samples for both tones, so the
        // sample leaving the window had the same reference as the one entering.
        let phase = (t % PHASES as u64) as usize;
        let delta = x - old;
        let m = phase * MARK_STEP % PHASES;
        let s = phase * SPACE_STEP % PHASES;
        self.mark.0 += delta * self.cos[m];
        self.mark.1 += delta * self.sin[m];
        self.space.0 += delta * self.cos[s];
        self.space.1 += delta * self.sin[s];
        self.energy += x * x - old * old;
        if (t + 1).is_multiple_of(REFRESH_EVERY) {
            self.refresh(t);
        }

        let tone = self.classify();
        let a_space = 2.0 / WINDOW as f64 * self.space.0.hypot(self.space.1);
        self.history[(t % HISTORY as u64) as usize] = (tone, a_space as f32);
        self.step(t, tone);

        match tone {
            Tone::Mark => {
                self.mark_run = self.mark_run.saturating_add(1);
                self.silence_run = 0;
            }
            Tone::Silence => {
                self.silence_run = self.silence_run.saturating_add(1);
                self.mark_run = 0;
            }
            Tone::Space => {
                self.mark_run = 0;
                self.silence_run = 0;
            }
        }
        self.prev = tone;
        self.now += 1;
    }

    /// Recomputes the correlations from the window (the window ends at sample `t`).
    fn refresh(&mut self, t: u64) {
        self.mark = (0.0, 0.0);
        self.space = (0.0, 0.0);
        for back in 0..WINDOW as u64 {
            let Some(n) = t.checked_sub(back) else { break };
            let x = self.window[(n % WINDOW as u64) as usize];
            let phase = (n % PHASES as u64) as usize;
            let m = phase * MARK_STEP % PHASES;
            let s = phase * SPACE_STEP % PHASES;
            self.mark.0 += x * self.cos[m];
            self.mark.1 += x * self.sin[m];
            self.space.0 += x * self.cos[s];
            self.space.1 += x * self.sin[s];
        }
    }

    fn classify(&self) -> Tone {
        let mark = self.mark.0.hypot(self.mark.1);
        let space = self.space.0.hypot(self.space.1);
        // A sine of peak A filling the window correlates to A·WINDOW/2.
        let scale = 2.0 / WINDOW as f64;
        let tonal = if self.energy > 0.0 {
            2.0 * (mark * mark + space * space) / (WINDOW as f64 * self.energy)
        } else {
            0.0
        };
        if scale * (mark + space) < self.threshold || tonal < MIN_TONE_FRACTION {
            Tone::Silence
        } else if space > mark {
            Tone::Space
        } else {
            Tone::Mark
        }
    }

    fn step(&mut self, t: u64, tone: Tone) {
        match self.state {
            RxState::Idle => {
                if tone != Tone::Space {
                    return;
                }
                if self.prev == Tone::Mark && self.mark_run >= MIN_IDLE_RUN {
                    // Mark to space: the decision flips when the window is half full of
                    // space, which is the reference point for every edge.
                    self.state = RxState::Frame {
                        edge: t as f64,
                        bit: 0,
                        code: 0,
                    };
                } else if self.prev == Tone::Silence && self.silence_run >= MIN_IDLE_RUN {
                    self.state = RxState::FindEdge { detected: t };
                }
            }
            RxState::FindEdge { detected } => {
                if t >= detected + FIND_EDGE_WAIT {
                    let edge = self.find_edge(detected, t);
                    self.state = RxState::Frame {
                        edge,
                        bit: 0,
                        code: 0,
                    };
                    self.advance_frame(t);
                }
            }
            RxState::Frame { .. } => self.advance_frame(t),
        }
    }

    /// For a start bit out of silence: the first sample where the space amplitude
    /// reached half of what it is now (window full of start bit), i.e. where the
    /// window was half full, as for a mark-to-space edge.
    fn find_edge(&self, detected: u64, t: u64) -> f64 {
        let full = self.history[(t % HISTORY as u64) as usize].1;
        let from = detected.saturating_sub(WINDOW as u64);
        (from..=t)
            .find(|&n| self.history[(n % HISTORY as u64) as usize].1 >= full / 2.0)
            .unwrap_or(detected) as f64
    }

    /// Checks every bit of the current character whose voting span has ended by `t`.
    fn advance_frame(&mut self, t: u64) {
        while let RxState::Frame { edge, bit, code } = self.state {
            // The middle half of each bit; the stop bit's 6.2..6.8 lies inside 1.5 stop
            // bits even at ±2 % rate error, and ends before the next start bit.
            let (from, to) = if bit < 6 {
                (bit as f64 + 0.25, bit as f64 + 0.75)
            } else if self.stop_bits > 1.5 {
                // A receiver that wants more (minimodem's `tdd`: 2) checks mark over
                // nearly all of them: a shorter stop runs into the next start bit.
                (6.2, 6.0 + self.stop_bits - 0.2)
            } else {
                (6.2, 6.8)
            };
            let last = (edge + to * BIT_SAMPLES).floor() as u64;
            if t < last {
                return;
            }
            let first = (edge + from * BIT_SAMPLES).ceil() as u64;
            if t - first >= HISTORY as u64 {
                self.state = RxState::Idle;
                return;
            }
            let (mut marks, mut spaces, mut silent) = (0u32, 0u32, 0u32);
            for n in first..=last {
                match self.history[(n % HISTORY as u64) as usize].0 {
                    Tone::Mark => marks += 1,
                    Tone::Space => spaces += 1,
                    Tone::Silence => silent += 1,
                }
            }
            if silent > marks + spaces {
                if bit > 0 {
                    self.framing_errors += 1;
                }
                self.state = RxState::Idle;
                return;
            }
            let is_mark = marks > spaces;
            self.state = match bit {
                // A start bit that is not space was a glitch, not a character.
                0 if is_mark => RxState::Idle,
                0 => RxState::Frame { edge, bit: 1, code },
                1..=5 => RxState::Frame {
                    edge,
                    bit: bit + 1,
                    code: code | (u8::from(is_mark) << (bit - 1)),
                },
                _ => {
                    if is_mark {
                        self.character(code);
                    } else {
                        self.framing_errors += 1;
                    }
                    RxState::Idle
                }
            };
        }
    }

    fn character(&mut self, code: u8) {
        match code {
            LTRS => self.shift = Shift::Letters,
            FIGS => self.shift = Shift::Figures,
            CODE_SPACE => {
                self.text.push(' ');
                // Unshift on space.
                self.shift = Shift::Letters;
            }
            _ => {
                let table = match self.shift {
                    Shift::Letters => &LETTERS,
                    Shift::Figures => &FIGURES,
                };
                let c = table[usize::from(code & 0x1F)];
                if c != '\0' {
                    self.text.push(c);
                }
            }
        }
    }
}

impl Receiver {
    /// A receiver that requires `bits` stop bits of mark (from 1.5 up).
    pub fn with_stop_bits(mut self, bits: f64) -> Self {
        assert!(
            (1.5..=3.0).contains(&bits),
            "stop bits {bits} out of 1.5..=3"
        );
        self.stop_bits = bits;
        self
    }
}

/// Decodes a whole recording at once.
pub fn decode(mulaw: &[u8]) -> String {
    let mut rx = Receiver::new();
    rx.push(mulaw);
    rx.take_text()
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

#[test]
fn mulaw_matches_g711_reference_points() {
    assert_eq!(mulaw_encode(0), 0xFF);
    assert_eq!(mulaw_encode(-1), 0x7F);
    assert_eq!(mulaw_encode(i16::MAX), 0x80);
    assert_eq!(mulaw_encode(i16::MIN), 0x00);
    assert_eq!(mulaw_decode(0xFF), 0);
    assert_eq!(mulaw_decode(0x7F), 0);
    assert_eq!(mulaw_decode(0x80), 32124);
    assert_eq!(mulaw_decode(0x00), -32124);
    // Segment 1, step 0 and two digital-milliwatt code words.
    assert_eq!(mulaw_decode(0xEF), 132);
    assert_eq!(mulaw_decode(0x1E), -8828);
    assert_eq!(mulaw_decode(0x8B), 20860);
    // Every code word survives decode then encode (except −0, which becomes +0).
    for byte in 0..=255u8 {
        let back = mulaw_encode(mulaw_decode(byte));
        let expected = if byte == 0x7F { 0xFF } else { byte };
        assert_eq!(back, expected, "code {byte:#04x}");
    }
}

#[test]
fn mulaw_round_trip_is_within_half_a_step() {
    for x in (-32768i32..=32767).step_by(7) {
        let x = x as i16;
        let y = mulaw_decode(mulaw_encode(x));
        let magnitude = i32::from(x).abs().min(MULAW_CLIP);
        // Step size in the segment of `magnitude`: 8 << segment on the 16-bit scale.
        let biased = magnitude + MULAW_BIAS;
        let segment = 31 - biased.leading_zeros() - 7;
        let half_step = (8 << segment) / 2;
        let error = (i32::from(x).clamp(-MULAW_CLIP, MULAW_CLIP) - i32::from(y)).abs();
        assert!(error <= half_step, "{x} -> {y}");
        assert!(
            i32::from(x).signum() * i32::from(y).signum() >= 0,
            "{x} -> {y}"
        );
    }
}

#[test]
fn digital_milliwatt_measures_zero_dbm0() {
    let milliwatt: Vec<u8> = [0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E].repeat(100);
    let level = level_dbm0(&milliwatt);
    assert!(level.abs() < 0.05, "digital milliwatt at {level} dBm0");
    assert!((dbm0_to_peak(0.0) - 22657.0).abs() < 2.0);
}

#[test]
fn transmitter_timing_level_and_phase() {
    let mut tx = Transmitter::default();
    let audio = tx.send("A");
    // Leader, LTRS, A (1 + 5 + 1.5 bits each), hold.
    assert_eq!(audio.len(), 1200 + 2 * 1320 + 2400);
    let leader = &audio[..1200];
    let level = level_dbm0(leader);
    assert!((level + 14.0).abs() < 0.2, "leader at {level} dBm0");
    // 1400 Hz for 150 ms: 210 cycles, 420 sign changes.
    let linear: Vec<i16> = audio.iter().map(|&b| mulaw_decode(b)).collect();
    let crossings = linear[..1200]
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    assert!((418..=422).contains(&crossings), "{crossings} crossings");
    // Continuous phase: no jump bigger than the fastest tone's slope allows
    // (2·sin(π·1800/8000) of the peak, plus a μ-law step).
    let peak = dbm0_to_peak(-14.0);
    let limit = peak * 2.0 * (PI * SPACE_HZ / SAMPLE_RATE).sin() + 300.0;
    let jump = linear
        .windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap_or(0);
    assert!(f64::from(jump) < limit, "jump {jump} over {limit}");
    // Two stop bits: 8 bits a character.
    assert_eq!(
        Transmitter::default().with_stop_bits(2.0).send("A").len(),
        1200 + 2 * 1408 + 2400
    );
}

#[test]
fn encoder_sends_shifts_and_refigs_after_space() {
    let codes = encode_text("SSN 123 45 6789 GA");
    #[rustfmt::skip]
    let expected = vec![
        LTRS, 0x05, 0x05, 0x0C, CODE_SPACE,
        FIGS, 0x17, 0x13, 0x01, CODE_SPACE,
        FIGS, 0x0A, 0x10, CODE_SPACE,
        FIGS, 0x15, 0x07, 0x06, 0x18, CODE_SPACE,
        LTRS, 0x1A, 0x03,
    ];
    assert_eq!(codes, expected);
    assert_eq!(encode_text("1A"), vec![FIGS, 0x17, LTRS, 0x03]);
    assert_eq!(
        encode_text("HI THERE"),
        vec![LTRS, 0x14, 0x06, CODE_SPACE, 0x10, 0x14, 0x01, 0x0A, 0x01]
    );
    assert_eq!(
        encode_text("A\nB"),
        vec![LTRS, 0x03, CODE_CR, CODE_LF, 0x19]
    );
    assert_eq!(
        encode_text("a\r\nb"),
        vec![LTRS, 0x03, CODE_CR, CODE_LF, 0x19]
    );
    assert_eq!(encode_text(""), vec![LTRS]);
}

fn round_trip(tx: &mut Transmitter, text: &str) -> String {
    let audio = tx.send(text);
    decode(&audio)
}

#[test]
fn round_trip_all_letters() {
    let text = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    assert_eq!(round_trip(&mut Transmitter::default(), text), text);
}

#[test]
fn round_trip_all_digits() {
    let text = "0123456789";
    assert_eq!(round_trip(&mut Transmitter::default(), text), text);
}

#[test]
fn round_trip_us_figures_punctuation() {
    let text = "-$'!\"#&;:(),?./\u{7}";
    assert_eq!(round_trip(&mut Transmitter::default(), text), text);
    let mut rx = Receiver::new();
    rx.push(
        &Transmitter::default().send_codes(&[FIGS, 0x05, 0x09, 0x0B, 0x0D, 0x11, 0x14, 0x1A, 0x1E]),
    );
    assert_eq!(rx.take_text(), "\u{7}$'!\"#&;");
    assert_eq!(rx.framing_errors(), 0);
}

#[test]
fn round_trip_mixed_message_with_spaces() {
    let text = "SSN 123 45 6789 GA";
    assert_eq!(round_trip(&mut Transmitter::default(), text), text);
    let text = "PAY $12.50 BY 5/1, OK? (Q) GA\r\nSK";
    assert_eq!(round_trip(&mut Transmitter::default(), text), text);
}

#[test]
fn receiver_unshifts_on_space_and_keeps_figures_otherwise() {
    let mut tx = Transmitter::default();
    // FIGS Q SP Q: the space returns to letters.
    assert_eq!(
        decode(&tx.send_codes(&[FIGS, 0x17, CODE_SPACE, 0x17])),
        "1 Q"
    );
    // FIGS persists over CR LF and across transmissions.
    let mut rx = Receiver::new();
    rx.push(&tx.send_codes(&[FIGS, 0x17, CODE_CR, CODE_LF, 0x13]));
    rx.push(&tx.send_codes(&[0x01]));
    assert_eq!(rx.take_text(), "1\r\n23");
    rx.push(&tx.send_codes(&[LTRS, 0x01]));
    assert_eq!(rx.take_text(), "E");
}

#[test]
fn lower_case_goes_as_upper_case_and_unsendable_characters_are_skipped() {
    let mut tx = Transmitter::default();
    assert_eq!(
        round_trip(&mut tx, "hello, world@ 100% {ok}"),
        "HELLO, WORLD 100 OK"
    );
}

#[test]
fn two_stop_bits() {
    let mut tx = Transmitter::default().with_stop_bits(2.0);
    let text = "CASE 4471 GA";
    assert_eq!(round_trip(&mut tx, text), text);
}

#[test]
fn plus_and_minus_two_percent_rate_error() {
    let text = "QUICK 0123456789 FOX GA";
    for error in [0.02, -0.02] {
        for stop in [1.5, 2.0] {
            let mut tx = Transmitter::default()
                .with_rate_error(error)
                .with_stop_bits(stop);
            assert_eq!(round_trip(&mut tx, text), text, "rate {error}, stop {stop}");
        }
    }
}

#[test]
fn minus_30_dbm0_in_minus_45_dbm0_noise() {
    let text = "MY CASE NBR IS 5512 GA";
    let clean = Transmitter::new(-30.0).send(text);
    let mut audio = add_white_noise(&silence(300), -45.0, 1);
    audio.extend(add_white_noise(&clean, -45.0, 2));
    audio.extend(add_white_noise(&silence(300), -45.0, 3));
    let level = level_dbm0(&add_white_noise(&silence(1000), -45.0, 4));
    assert!((level + 45.0).abs() < 0.5, "noise at {level} dBm0");
    let mut rx = Receiver::new();
    rx.push(&audio);
    assert_eq!(rx.take_text(), text);
    assert_eq!(rx.framing_errors(), 0);
}

#[test]
fn below_minus_40_dbm0_gives_nothing() {
    let audio = Transmitter::new(-40.0).send("SHOULD NOT BE HEARD 123");
    assert_eq!(decode(&audio), "");
    let audio = add_white_noise(&Transmitter::new(-42.0).send("NOR THIS"), -55.0, 9);
    assert_eq!(decode(&audio), "");
}

#[test]
fn silence_and_noise_give_nothing() {
    let mut rx = Receiver::new();
    rx.push(&silence(1000));
    rx.push(&add_white_noise(&silence(2000), -45.0, 5));
    rx.push(&add_white_noise(&silence(2000), -20.0, 6));
    rx.push(&add_white_noise(&silence(1000), -10.0, 7));
    assert_eq!(rx.take_text(), "");
    // A steady mark or space is not text either.
    let mut tx = Transmitter::default();
    rx.push(&tx.send_codes(&[]));
    let space: Vec<u8> = (0..8000)
        .map(|n| {
            let x = dbm0_to_peak(-14.0) * (2.0 * PI * SPACE_HZ * n as f64 / SAMPLE_RATE).sin();
            mulaw_encode(to_i16(x))
        })
        .collect();
    rx.push(&space);
    assert_eq!(rx.take_text(), "");
}

#[test]
fn arbitrary_chunk_sizes() {
    let text = "CHUNKS OF 1 7 160 AND 333 GA";
    let audio = Transmitter::default().send(text);
    let sizes = [1usize, 7, 160, 333, 2, 1000, 160, 5];
    let mut rx = Receiver::new();
    let mut got = String::new();
    let mut rest = &audio[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        rx.push(&rest[..n]);
        rest = &rest[n..];
        got.push_str(&rx.take_text());
        i += 1;
    }
    assert_eq!(got, text);
    assert_eq!(rx.take_text(), "");
    // 20 ms media frames with a reading after each.
    let mut rx = Receiver::new();
    let mut got = String::new();
    for frame in audio.chunks(160) {
        rx.push(frame);
        got.push_str(&rx.take_text());
    }
    assert_eq!(got, text);
}

/// A TTY signal made differently from [`Transmitter`]: no mark leader (the start bit
/// comes straight out of silence), phase restarted at every bit, tones 5 Hz off,
/// bits 1.7 % long, 2 stop bits, then silence.
fn foreign_signal(codes: &[u8], dbm0: f64, rng: &mut NoiseRng) -> Vec<u8> {
    let peak = dbm0_to_peak(dbm0);
    let bit = 179.0;
    let mut bits = Vec::new();
    for &code in codes {
        bits.push((0.0, 1.0));
        for k in 0..5 {
            bits.push((f64::from((code >> k) & 1), 1.0));
        }
        bits.push((1.0, 2.0));
    }
    let mut out = Vec::new();
    let mut clock = 0.0f64;
    for (value, length) in bits {
        let hz = if value > 0.5 { 1395.0 } else { 1805.0 };
        let phase0 = 2.0 * PI * rng.uniform();
        clock += bit * length;
        let mut n = 0.0;
        while (out.len() as f64) < clock.round() {
            let x = peak * (phase0 + 2.0 * PI * hz * n / SAMPLE_RATE).sin();
            out.push(mulaw_encode(to_i16(x)));
            n += 1.0;
        }
    }
    out
}

#[test]
fn a_different_transmitter_without_leader_or_continuous_phase() {
    let mut rng = NoiseRng::new(42);
    let mut audio = silence(200);
    audio.extend(foreign_signal(&encode_text("HELLO"), -20.0, &mut rng));
    audio.extend(silence(250));
    audio.extend(foreign_signal(&encode_text("123 GA"), -20.0, &mut rng));
    audio.extend(silence(100));
    let mut rx = Receiver::new();
    for frame in audio.chunks(160) {
        rx.push(frame);
    }
    assert_eq!(rx.take_text(), "HELLO123 GA");
    assert_eq!(rx.framing_errors(), 0);
}
