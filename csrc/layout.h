// Shapes, flags and buffers of one call, as the Python side (lstmkit/ops/native.py) lays them out.
//
// Legend: B batch, T time, H hidden units, R recurrent state size (P with a projection, else H).
// Internal buffers are padded: Hp and Rp round H and R up to the vector width, gate blocks are [4][Hp]
// in PyTorch's order i, f, g, o, and padded lanes hold zeros (padded weights are zero, so they stay zero).
// Tensors that cross the autograd boundary (xg, h0, c0, y, dy, dxg, ...) are dense and unpadded.
#pragma once
#include <cstdint>

namespace lstmkit {

// 4H rounded up to whole vectors of `lanes` elements: the row width of the weight-gradient results
// dW_hhᵀ and [dW_ih | db]ᵀ, whose vectors run along the gates.
inline long gate_width(long H, long lanes) { return (4 * H + lanes - 1) / lanes * lanes; }

struct Dims {
  int64_t T, B, H, R, Hp, Rp;
  bool projection, peephole, layer_norm, coupled, dropout, zoneout_h, zoneout_c, lengths;
  bool keep;     // forward: keep every step for the backward (else only what the next step needs)
  int threads;   // worker threads; the batch is split between them
  // With I > 0 the input projection runs inside the loop: xg is absent and the step GEMM reads x_t
  // beside h_{t-1} (see ForwardBuffers::x); Ip is x's padded row length (> I: lane I holds the 1 that
  // multiplies the bias row). dx: the backward also returns dx (the step GEMM gains Ip columns).
  int64_t I, Ip;
  bool dx;
  // zoneout weights the same for every step and row (evaluation: z = p): zh, zc hold one row each
  bool zoneout_const;
  // float32 with its GEMMs (the step GEMMs forward and backward, the weight gradients) multiplying in
  // bfloat16 and summing in float32 (gemm_bf16.h); set by the bindings' forward_bf16 and backward_bf16
  // only, on a CPU with AVX512-BF16. A backward must match its forward's precision: the packed weights
  // it keeps (W_ihᵀ with layer norm) are bfloat16 after a bf16 forward.
  bool bf16 = false;
};

template <class T>
struct ForwardBuffers {
  // inputs
  const T* xg;        // (T, B, 4H)
  const T* h0;        // (B, R)
  const T* c0;        // (B, H)
  const T* w_hh_t;    // W_hhᵀ (R, GW) dense (lstm_forward.h), (R, 4Hp) with layer norm on given xg; in panels
  const T* w_hr_t;    // W_hrᵀ (H, Rp), packed in panels
  const T* peep;      // (3, Hp): p_i, p_f, p_o
  const T* ln_hh_w;   // [4Hp] gain, ln_hh_b [4Hp] bias
  const T* ln_hh_b;
  const T* ln_c_w;    // [Hp] gain, ln_c_b [Hp] bias
  const T* ln_c_b;
  const T* mask;      // (B, Rp) recurrent dropout mask
  const T* zh;        // (T, B, Rp) zoneout weight of h_{t-1}; (1, 1, Rp) with Dims::zoneout_const
  const T* zc;        // (T, B, Hp) zoneout weight of c_{t-1}; (1, 1, Hp) with Dims::zoneout_const
  const int64_t* len; // (B,)
  // outputs
  T* y;        // (T, B, R)
  T* hs;       // (T+1, B, Rp) states h_0..h_T (2 slots used round-robin when !keep)
  T* cs;       // (T+1, B, Hp) states c_0..c_T (2 slots when !keep)
  T* gates;    // (T, B, 4Hp) i, f, g, o after their nonlinearities (1 slot when !keep); may be null with
               // layer norm and I > 0: the backward then recomputes them from x̂_hh, x̂_ih, the gains and
               // the bias (the caller chooses: native.py's KEEP_LN_GATES_BYTES)
  T* th;       // (T, B, Hp) tanh(ĉ_t), ĉ = LN_c(c̃) or c̃
  T* ctil;     // (T, B, Hp) c̃_t before zoneout (zoneout_c only)
  T* r;        // (T, B, Hp) o ⊙ tanh(ĉ) before the projection (projection only)
  T* xhat_hh;  // (T, B, 4Hp) normalized recurrent pre-activation (layer norm only)
  T* rstd_hh;  // (T, B)
  T* mean_c;   // (T, B) mean of c̃ (layer norm only): the backward recomputes x̂_c from c̃, μ and 1/σ
  T* rstd_c;   // (T, B)
  // input, with Dims::I > 0 (no layer norm): x (T, B, Ip), x_t in lanes 0..I-1, 1 in lane I, zeros
  // after; w_hh_t is then [W_ihᵀ; b; W_hhᵀ] ((I + 1 + R), GW), gate q at column q·H, packed in panels, so
  // xg_t = W_ih x_t + b comes out of the step GEMM.
  const T* x;
  // with Dims::I > 0 and layer norm: xg_t = LN_ih(W_ih x_t) + b from two GEMMs, W_ihᵀ packed on its own.
  // Its rows are dense, gate q at q·H in GW = gate_width(H) (no padding between the gates): w_hh_t is then
  // W_hhᵀ (R, GW), ln_hh_w is [GW], and x̂_hh is (T, B, GW); ln_hh_b is not read (β_hh is in bias)
  const T* w_ih_t;    // W_ihᵀ (I, GW), packed in panels
  const T* bias;      // [GW] b_ih + b_hh + β_ih + β_hh: every bias added after the two norms
  const T* ln_ih_w;   // [GW] gain; ln_ih_b is not read (β_ih is in bias)
  const T* ln_ih_b;
  T* xhat_ih;         // (T, B, GW) normalized W_ih x_t; null when the backward recomputes it (I <= H:
                      // a GEMM over I costs less than writing and reading back 4Hp values per row)
  T* rstd_ih;         // (T, B)
  T* mean_ih;         // (T, B) mean of W_ih x_t, for the recomputation (null when xhat_ih is kept)
};

template <class T>
struct BackwardBuffers {
  // inputs: the forward's buffers (kept for every step) and the upstream gradients
  ForwardBuffers<T> fw;
  const T* w_hh;      // W_hh (4H, Rp), or [W_hh | W_ih] (4H, Rp + Ip) with Dims::dx, packed in panels
  const T* w_hr;      // W_hr (R, Hp), packed in panels
  const T* dy;        // (T, B, R), null for zeros (an output the loss does not use)
  const T* dh_T;      // (B, R), or null
  const T* dc_T;      // (B, H), or null
  // outputs
  // dxg and dhh are read in whole vectors by the weight-gradient GEMM: each buffer has at least one
  // vector of readable slack after its last row
  T* dxg;       // (T, B, 4H); absent with I > 0 and layer norm (d(W_ih x_t) is then used inside the loop)
  T* dh0;       // (B, R)
  T* dc0;       // (B, H)
  T* dhh;       // (T, B, 4H) gradient of W_hh (m ⊙ h_{t-1}); the same buffer as dxg without layer norm
  T* dht;       // (T, B, Rp) gradient of h̃_t (projection only)
  T* dw_hh;     // [R][Gv] gradient of W_hhᵀ, Gv = gate_width(H, lanes); columns past 4H unused
  T* dw_hr;     // [R][Hp] gradient of W_hr (projection only)
  T* dparams;   // (threads, 25Hp): per thread [peephole 3Hp | ln_hh w, b 4Hp each | ln_c w, b Hp each |
                // ln_ih w, b 4Hp each | Σ da 4Hp]; with layer norm and I > 0, Σ da is the gradient of
                // the bias and of both norms' β (their own slots stay zero), and the ln_hh w, ln_ih w
                // and Σ da slots hold dense rows (4H values from the slot's start)
  T* dx;        // (T, B, I) with Dims::dx
  T* dw_ih;     // [I + 1][Gv] gradient of [W_ih | b]ᵀ with Dims::I > 0: row I is the bias gradient; with
                // layer norm (bias gradient in dparams) (threads, I, Gv), summed per thread in the loop
  const T* w_ih;      // W_ih as (Gv, Ip), dense rows, packed in panels: dx with layer norm
};

template <class T>
struct StepBuffers {
  // one step of a streaming cell: a_t = LN_ih(W_ih x_t) + b, then the forward step of ForwardBuffers
  ForwardBuffers<T> fw;  // h0, c0 = the state in; w_hh_t, w_hr_t, peep, layer norms; y = h_t out
  const T* x;            // (B, I)
  const T* w_ih_t;       // W_ihᵀ (I, 4Hp), packed in panels
  const T* bias;         // [4Hp] b_ih + b_hh
  const T* ln_ih_w;      // [4Hp] gain and bias of LN_ih (layer norm only)
  const T* ln_ih_b;
  T* c_out;              // (B, H)
  int64_t input_size;    // I
};

}  // namespace lstmkit
