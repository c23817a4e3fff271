//! A learnt second reading beside the rules: a logistic-regression classifier over the letters
//! of the normalized message, trained on the labelled corpus (`corpus/`). Rules catch what they
//! were written for; phrasings nobody wrote a rule for still share pieces with the corpus (죽,
//! 사라지, 목소리, 안 깨어나, 뛰어내리…), and the classifier reads those pieces in any order and
//! construction. It is trained when first needed (a fraction of a second; `warm` does it at start-up)
//! from the corpus compiled into the binary, so the model and its data can never drift apart.
//!
//! Features: every run of 1 to 4 letters of the compact form (Korean is read without spaces) and
//! every English word and word pair of the spaced form, weighted by rarity (TF-IDF, binary) and
//! scaled to unit length; only those seen in at least two messages are kept. Training: multinomial
//! logistic regression by AdaGrad over a fixed, seeded order, with classes weighted to count
//! alike. Measured (leave-one-writer-out and on the held-out sets) in docs/intelligence.md.

use std::{collections::HashMap, sync::LazyLock};

use super::{
    corpus::{self, Case, Label},
    normalize::{Normalized, normalize},
};

/// Probabilities in `Label::ALL` order.
pub type Probs = [f32; 4];

const CLASSES: usize = 4;
const EPOCHS: usize = 40;
const LEARNING_RATE: f32 = 0.4;
const L2: f32 = 1e-5;
const MIN_DF: u32 = 2;

pub struct Model {
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    weights: Vec<[f32; CLASSES]>,
    bias: [f32; CLASSES],
}

/// Every feature name of a message, once each.
fn grams(n: &Normalized) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = n.compact.chars().collect();
    for len in 1..=4 {
        for w in chars.windows(len) {
            out.push(w.iter().collect());
        }
    }
    let words: Vec<&str> =
        n.spaced.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    for w in &words {
        out.push(format!(" {w}"));
    }
    for pair in words.windows(2) {
        out.push(format!(" {} {}", pair[0], pair[1]));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A sparse unit vector: (feature, value).
type Sparse = Vec<(u32, f32)>;

fn softmax(z: [f32; CLASSES]) -> Probs {
    let max = z.iter().copied().fold(f32::MIN, f32::max);
    let e = z.map(|v| (v - max).exp());
    let sum: f32 = e.iter().sum();
    e.map(|v| v / sum)
}

impl Model {
    pub fn train(cases: &[Case]) -> Model {
        let docs: Vec<(Vec<String>, usize)> =
            cases.iter().map(|c| (grams(&normalize(&c.text)), c.label.index())).collect();
        let mut df: HashMap<&str, u32> = HashMap::new();
        for (g, _) in &docs {
            for f in g {
                *df.entry(f.as_str()).or_default() += 1;
            }
        }
        let mut kept: Vec<(&str, u32)> = df.into_iter().filter(|(_, d)| *d >= MIN_DF).collect();
        kept.sort_unstable();
        let n = docs.len() as f32;
        let vocab: HashMap<String, u32> =
            kept.iter().enumerate().map(|(i, (f, _))| ((*f).to_string(), i as u32)).collect();
        let idf: Vec<f32> = kept.iter().map(|(_, d)| ((1.0 + n) / (1.0 + *d as f32)).ln() + 1.0).collect();
        let mut model = Model { vocab, idf, weights: vec![[0.0; CLASSES]; kept.len()], bias: [0.0; CLASSES] };
        let rows: Vec<(Sparse, usize)> = docs.iter().map(|(g, y)| (model.vector(g), *y)).collect();

        // Each class counts as much as the others, however many messages it has.
        let mut count = [0f32; CLASSES];
        for (_, y) in &rows {
            count[*y] += 1.0;
        }
        let class_weight = count.map(|c| if c > 0.0 { n / (CLASSES as f32 * c) } else { 0.0 });

        let mut grad_sq = vec![[1e-6f32; CLASSES]; model.weights.len()];
        let mut bias_sq = [1e-6f32; CLASSES];
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..EPOCHS {
            // Fisher–Yates with a fixed xorshift: the same corpus trains the same model.
            for i in (1..order.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                order.swap(i, (seed % (i as u64 + 1)) as usize);
            }
            for &r in &order {
                let (x, y) = &rows[r];
                let p = model.scores(x);
                for k in 0..CLASSES {
                    let g = (p[k] - if k == *y { 1.0 } else { 0.0 }) * class_weight[*y];
                    for &(f, v) in x {
                        let w = &mut model.weights[f as usize][k];
                        let gk = g * v + L2 * *w;
                        let s = &mut grad_sq[f as usize][k];
                        *s += gk * gk;
                        *w -= LEARNING_RATE * gk / s.sqrt();
                    }
                    bias_sq[k] += g * g;
                    model.bias[k] -= LEARNING_RATE * g / bias_sq[k].sqrt();
                }
            }
        }
        model
    }

    fn vector(&self, grams: &[String]) -> Sparse {
        let mut x: Sparse = grams.iter().filter_map(|g| self.vocab.get(g).map(|&i| (i, self.idf[i as usize]))).collect();
        let norm = x.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut x {
                *v /= norm;
            }
        }
        x
    }

    fn scores(&self, x: &Sparse) -> Probs {
        let mut z = self.bias;
        for &(f, v) in x {
            let w = &self.weights[f as usize];
            for k in 0..CLASSES {
                z[k] += w[k] * v;
            }
        }
        softmax(z)
    }

    pub fn probs(&self, n: &Normalized) -> Probs {
        self.scores(&self.vector(&grams(n)))
    }
}

static MODEL: LazyLock<Model> = LazyLock::new(|| Model::train(&corpus::training()));

/// The trained model's reading of a normalized message.
pub fn probs(n: &Normalized) -> Probs {
    MODEL.probs(n)
}

/// Trains the model now rather than on the first message (called at start-up, off the runtime).
pub fn warm() {
    LazyLock::force(&MODEL);
}

/// The probability above which the model's reading of a class counts as a flag.
pub const THRESHOLD: Probs = [0.4, 0.3, 0.5, 1.0];

/// What the model flags, if anything: the crisis reading first, then emergency, then medical.
pub fn flag(p: &Probs) -> Option<Label> {
    [Label::Crisis, Label::Emergency, Label::Medical].into_iter().find(|l| p[l.index()] > THRESHOLD[l.index()])
}
