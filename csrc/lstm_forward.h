// Forward time loop of the LSTM recurrence for a slice of the batch (rows b0..b1), one call per thread.
//
// Per step t, for every row (the same equations as lstmkit/ops/reference.py):
//   a_t  = xg_t + LN_hh(W_hh (m ⊙ h_{t-1}))         // one small GEMM for all rows of the slice
//   i_t  = σ(a_i + p_i ⊙ c_{t-1})
//   f_t  = σ(a_f + p_f ⊙ c_{t-1})                    // f_t = 1 - i_t with coupled gates
//   g_t  = tanh(a_g)
//   c̃_t  = f_t ⊙ c_{t-1} + i_t ⊙ g_t
//   o_t  = σ(a_o + p_o ⊙ c̃_t)
//   h̃_t  = W_hr (o_t ⊙ tanh(LN_c(c̃_t)))              // second small GEMM with a projection
//   c_t  = z^c_t ⊙ c_{t-1} + (1 - z^c_t) ⊙ c̃_t
//   h_t  = z^h_t ⊙ h_{t-1} + (1 - z^h_t) ⊙ h̃_t
// Rows at or past their length keep (h, c) and output zeros. Needs simd.h, gemm.h and layer_norm.h.
//
// Without layer norm the step GEMM writes the gate pre-activations dense, gate q at column q·H of a row
// of gate_width(H) (layout.h), so no multiply-add is spent on padding between the gates; where H is not
// a whole number of vectors each row is then copied into the padded [4][Hp] layout the gate pass reads
// (padded lanes zero). Layer norm with the input projection inside runs its norms over those dense rows
// too (W_ihᵀ, the gains and the summed bias are packed dense, x̂_hh and x̂_ih stored dense); layer norm
// on given gate inputs xg keeps the padded layout.

// valid[0..4Hp) = 1 on each gate's H real lanes, 0 on its padding (no division per lane: a streaming step
// builds it on every call)
template <class T>
inline void fill_gate_lanes(T* valid, long H, long Hp) {
  for (long q = 0; q < 4; ++q)
    for (long j = 0; j < Hp; ++j) valid[q * Hp + j] = j < H ? T(1) : T(0);
}

// i, f, g at lanes j.. of a gate row a in the padded layout [4][Hp], the peepholes reading c_{t-1}; and o,
// its peephole reading c̃_t. Shared with the backward, which recomputes the gates with layer norm.
template <class T>
inline void input_gates(const Dims& d, const T* a, const T* peep, long j, vec_t<T> c_prev, vec_t<T>* i,
                        vec_t<T>* fg, vec_t<T>* g) {
  const long Hp = d.Hp;
  vec_t<T> ai = vload(a + j), af = vload(a + Hp + j);
  if (d.peephole) {
    ai += vload(peep + j) * c_prev;
    af += vload(peep + Hp + j) * c_prev;
  }
  *i = vsigmoid(ai);                       // input gate
  *fg = d.coupled ? 1 - *i : vsigmoid(af);  // forget gate
  *g = vtanh(vload(a + 2 * Hp + j));       // candidate cell
}

template <class T>
inline vec_t<T> output_gate(const Dims& d, const T* a, const T* peep, long j, vec_t<T> ct) {
  vec_t<T> ao = vload(a + 3 * d.Hp + j);
  if (d.peephole) ao += vload(peep + 2 * d.Hp + j) * ct;
  return vsigmoid(ao);
}

// Elements of the scratch forward_rows carves below: S, hin, hproj and U for every row of the batch, then
// valid, Apad and Gs (the callers allocate this much per thread).
// With Dims::bf16, words of scratch after the rest of a forward's or backward's for the bfloat16 pair forms
// (gemm_bf16.h), one use at a time: a step GEMM's M rows of ceil(KT/2) pairs and one row of KT + 32 floats,
// KT at most max(4Hp, Ip + Rp) (the backward's da; the forward's [x_t, 1, h]), so at most
// (B + 1)·(4Hp + Ip + Rp + 1) + 32; and layer norm's per-step dW_ih (lstm_backward.h), ceil(nb/2) pairs
// of rows of x_t (I rounded up to 16, at most Ip + 16) and of dxg_t (GW <= 4Hp), within the same bound
// as Rp >= 16 (AVX-512). One Hp more a row and 64 words of margin.
inline long bf16_scratch(const Dims& d) { return d.bf16 ? (d.B + 1) * (5 * d.Hp + d.Ip + d.Rp + 2) + 64 : 0; }

inline long forward_scratch(const Dims& d) { return d.B * (8 * d.Hp + 2 * d.Rp) + 12 * d.Hp + bf16_scratch(d); }

// The step GEMMs of forward_rows: float32 (gemm.h), or bfloat16 products with float32 sums where the call
// asked for them (Dims::bf16, float32 only; the weights then come packed as bfloat16 pairs, gemm_bf16.h).
// `pairs` is scratch for the left operand's rows in bfloat16.
template <class T>
inline void step_gemm(const Dims& d, int M, int N, const Operand<T>& A1, int K, const T* A, long lda, const T* Bp,
                      T* C, long ldc, bool accumulate, uint32_t* pairs) {
#ifdef LSTMKIT_BF16
  if constexpr (sizeof(T) == 4) {
    if (d.bf16) {
      gemm_bf16(M, N, A1, K, A, lda, reinterpret_cast<const uint16_t*>(Bp), C, ldc, accumulate, pairs);
      return;
    }
  }
#else
  (void)d, (void)pairs;
#endif
  gemm<T>(M, N, A1, K, A, lda, Bp, C, ldc, accumulate);
}

template <class T>
void forward_rows(const Dims& d, const ForwardBuffers<T>& f, long b0, long b1, T* scratch) {
  constexpr int V = Vec<T>::lanes;
  const long B = d.B, H = d.H, R = d.R, Hp = d.Hp, Rp = d.Rp, G4 = 4 * Hp;
  const int nb = int(b1 - b0);
  const bool dense = !d.layer_norm || d.I > 0, unpad = dense && H % V != 0;
  const long GW = dense ? gate_width(H, V) : G4;  // row width of S, U, x̂_hh and x̂_ih
  T* S = scratch;          // (nb, GW) gate pre-activations
  T* hin = S + B * G4;     // (nb, Rp) m ⊙ h_{t-1}
  T* hproj = hin + B * Rp; // (nb, Rp) W_hr r_t
  T* valid = hproj + B * Rp;  // [4Hp] 1 on real lanes, 0 on padding
  T* U = valid + G4;          // (nb, GW) W_ih x_t (layer norm with the input projection inside)
  T* Apad = U + B * G4;       // [4Hp] one row of S in the padded layout (unpad)
  T* Gs = Apad + G4;          // [4Hp] the gates of one row, not kept (layer norm with I > 0, see below)
  uint32_t* pairs = reinterpret_cast<uint32_t*>(Gs + G4);  // rows of a GEMM's left operand in bfloat16 (bf16)
  const Operand<T> none{0, nullptr, 0};
  const bool ln_in = d.layer_norm && d.I > 0;
  for (long j = 0; j < G4; ++j) Apad[j] = 0;
  fill_gate_lanes(valid, H, Hp);
  for (long j = 0; j < long(nb) * G4; ++j) S[j] = 0;
  auto slot2 = [&](long t) { return d.keep ? t : (t & 1); };
  auto slot1 = [&](long t) { return d.keep ? t : 0L; };
  auto zrow = [&](long t, long b) { return d.zoneout_const ? 0L : t * B + b; };  // row of zh, zc

  for (long b = b0; b < b1; ++b) {
    T* h = f.hs + b * Rp;
    T* c = f.cs + b * Hp;
    for (long j = 0; j < Rp; ++j) h[j] = j < R ? f.h0[b * R + j] : T(0);
    for (long j = 0; j < Hp; ++j) c[j] = j < H ? f.c0[b * H + j] : T(0);
  }
  for (long t = 0; t < d.T; ++t) {
    const T* hprev = f.hs + slot2(t) * B * Rp;
    const T* cprev = f.cs + slot2(t) * B * Hp;
    T* hnext = f.hs + slot2(t + 1) * B * Rp;
    T* cnext = f.cs + slot2(t + 1) * B * Hp;
    const long s1 = slot1(t);
    const T* xg = d.I > 0 ? nullptr : f.xg + t * B * 4 * H;

    // a_t = xg_t + LN_hh(W_hh (m ⊙ h_{t-1}))
    const T* A = hprev + b0 * Rp;
    if (d.dropout) {
      for (int k = 0; k < nb; ++k)
        for (long j = 0; j < Rp; j += V)
          vstore(hin + k * Rp + j, vload(hprev + (b0 + k) * Rp + j) * vload(f.mask + (b0 + k) * Rp + j));
      A = hin;
    }
    if (d.layer_norm) {
      step_gemm<T>(d, nb, int(GW), none, int(R), A, Rp, f.w_hh_t, S, GW, false, pairs);
      if (d.I > 0)
        step_gemm<T>(d, nb, int(GW), none, int(d.I), f.x + (t * B + b0) * d.Ip, d.Ip, f.w_ih_t, U, GW, false, pairs);
      for (int k = 0; k < nb; ++k) {
        const long row = s1 * B + b0 + k;
        T* a = S + k * GW;
        if (d.I > 0) {  // a = LN_hh(W_hh h) + LN_ih(W_ih x_t) + b, f.bias holding b and both norms' β
          const bool keep = d.keep;
          layer_norm_pair_row<T>(a, U + k * GW, GW, 4 * H, f.ln_hh_w, f.ln_ih_w, f.bias,
                                 keep ? f.xhat_hh + row * GW : nullptr,
                                 keep && f.xhat_ih ? f.xhat_ih + row * GW : nullptr, keep ? f.rstd_hh + row : nullptr,
                                 keep ? f.rstd_ih + row : nullptr, keep && f.mean_ih ? f.mean_ih + row : nullptr);
        } else {
          layer_norm_row<T>(a, G4, 4 * H, valid, f.ln_hh_w, f.ln_hh_b, f.xhat_hh + row * G4, f.rstd_hh + row);
          const T* x = xg + (b0 + k) * 4 * H;
          for (int q = 0; q < 4; ++q) vadd<T>(a + q * Hp, x + q * H, H);
        }
      }
    } else if (d.I > 0) {  // [x_t, 1, h_{t-1}] · [W_ihᵀ; b; W_hhᵀ]: the input projection in the same GEMM
      const Operand<T> x_t{int(d.I + 1), f.x + (t * B + b0) * d.Ip, d.Ip};
      step_gemm<T>(d, nb, int(GW), x_t, int(R), A, Rp, f.w_hh_t, S, GW, false, pairs);
    } else {
      for (int k = 0; k < nb; ++k) vcopy<T>(S + k * GW, xg + (b0 + k) * 4 * H, 4 * H);
      step_gemm<T>(d, nb, int(GW), none, int(R), A, Rp, f.w_hh_t, S, GW, true, pairs);
    }

    for (int k = 0; k < nb; ++k) {
      const long b = b0 + k, row = s1 * B + b;
      const T* a = S + k * GW;
      if (unpad) {  // gate q from column q·H to q·Hp; lanes H..Hp of each gate stay zero
        for (int q = 0; q < 4; ++q) vcopy<T>(Apad + q * Hp, a + q * H, H);
        a = Apad;
      }
      const T* cp = cprev + b * Hp;
      // with layer norm and the input projection inside, no gates buffer means the backward recomputes
      // them from x̂_hh, x̂_ih and the gains (lstm_backward.h), so they are not written to memory
      T* gate = ln_in && !f.gates ? Gs : f.gates + row * G4;
      T* cn = cnext + b * Hp;
      if (d.lengths && t >= f.len[b]) {  // frozen: keep the state, output zeros
        vcopy<T>(hnext + b * Rp, hprev + b * Rp, Rp);
        vcopy<T>(cn, cp, Hp);
        for (long j = 0; j < R; ++j) f.y[(t * B + b) * R + j] = 0;
        continue;
      }
      T* ct_out = d.zoneout_c ? f.ctil + row * Hp : cn;  // c̃_t
      for (long j = 0; j < Hp; j += V) {
        const vec_t<T> c_prev = vload(cp + j);
        vec_t<T> i, fg, g;
        input_gates<T>(d, a, f.peep, j, c_prev, &i, &fg, &g);
        vstore(gate + j, i);
        vstore(gate + Hp + j, fg);
        vstore(gate + 2 * Hp + j, g);
        vstore(ct_out + j, fg * c_prev + i * g);             // c̃ = f c_{t-1} + i g
      }
      T mean = 0, rstd = 1;
      if (d.layer_norm) {
        layer_norm_stats<T>(ct_out, Hp, H, valid, &mean, &rstd);
        f.rstd_c[row] = rstd;
        f.mean_c[row] = mean;  // x̂_c is not stored: the backward recomputes it from c̃
      }
      T* rr = d.projection ? f.r + row * Hp : hproj + k * Rp;
      for (long j = 0; j < Hp; j += V) {
        const vec_t<T> ct = vload(ct_out + j);
        const vec_t<T> o = output_gate<T>(d, a, f.peep, j, ct);
        vec_t<T> chat = ct;
        if (d.layer_norm) {
          const vec_t<T> xhat = vmasked<T>((ct - mean) * rstd, vload(valid + j));
          chat = xhat * vload(f.ln_c_w + j) + vload(f.ln_c_b + j);  // ĉ = LN_c(c̃)
        }
        const vec_t<T> th = vtanh(chat);
        vstore(gate + 3 * Hp + j, o);
        vstore(f.th + row * Hp + j, th);
        vstore(rr + j, o * th);                              // h̃ (or r before W_hr)
        if (d.zoneout_c) {
          const vec_t<T> z = vload(f.zc + zrow(t, b) * Hp + j);
          vstore(cn + j, z * vload(cp + j) + (1 - z) * ct);  // c = z c_{t-1} + (1 - z) c̃
        }
      }
    }
    if (d.projection)
      step_gemm<T>(d, nb, int(Rp), none, int(H), f.r + (s1 * B + b0) * Hp, Hp, f.w_hr_t, hproj, Rp, false, pairs);
    for (int k = 0; k < nb; ++k) {
      const long b = b0 + k;
      if (d.lengths && t >= f.len[b]) continue;
      T* hn = hnext + b * Rp;
      const T* ht = hproj + k * Rp;
      if (d.zoneout_h) {
        for (long j = 0; j < Rp; j += V) {
          const vec_t<T> z = vload(f.zh + zrow(t, b) * Rp + j);
          vstore(hn + j, z * vload(hprev + b * Rp + j) + (1 - z) * vload(ht + j));  // h = z h_{t-1} + (1 - z) h̃
        }
      } else {
        vcopy<T>(hn, ht, Rp);
      }
      vcopy<T>(f.y + (t * B + b) * R, hn, R);
    }
  }
  vstream_fence();  // layer norm's x̂ went out with streaming stores (layer_norm.h)
}
