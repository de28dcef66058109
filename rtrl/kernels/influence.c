/* The influence update of sparse RTRL, in place, in one pass over M, in C: built by `make`
 * (rtrl/kernels/native.py).
 *
 *   M[i, :] = diag[i] M[i, :] + sum_{q in ptr[i]..ptr[i+1]} vals[q] M_old[units[slots[q]], :]
 *   M[i, imm_col[e]] += imm_val[e]          for e in imm_ptr[i]..imm_ptr[i+1] (columns ascending)
 *   grad[:] += cw[i] M[i, :]                when with_grad (cw[i] = dL/ds_i on the active rows, else 0)
 *
 * for every row i of M (n x P, row-major), on the reached columns only: spans span_start[s],
 * span_width[s] (s < n_spans, ascending, each at most `block` wide; rtrl/reach.py: the other
 * columns are zero and stay zero). Per span the old values of the
 * active rows are copied to `old` (n_active x block) first; each row segment is then accumulated
 * in four vector registers over all its terms and stored once, its immediate-influence entries in
 * the span are added (cursor[i] walks them) and it is contracted into grad. Runs with flush-to-zero and
 * denormals-are-zero set (x86), restored on return: values below the smallest normal number
 * become zero, far below round-off, instead of taking the CPU's ~100x slower subnormal path.
 * Without a C compiler the numba kernel rtrl.kernels.compiled.update does the same work.
 */
#include <stdint.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif

/* Rows ahead whose block segment is prefetched: a segment is only `block` columns long, too short
 * for the hardware prefetcher to pick up before the next row's segment, 4P bytes further on. */
#define PREFETCH_ROWS 2

#define DEFINE_PRODUCT(NAME, T)                                                                       \
  typedef T NAME##_vec __attribute__((vector_size(VBYTES), aligned(sizeof(T)), may_alias));          \
  void NAME(T *restrict M, int64_t n, int64_t P, T *restrict old, const int64_t *units,              \
            int64_t n_active, const T *diag, const int64_t *ptr, const int64_t *slots,               \
            const T *vals, int64_t block, const int64_t *span_start, const int64_t *span_width,      \
            int64_t n_spans, const int64_t *imm_ptr, const int64_t *imm_col, const T *imm_val,       \
            int64_t *cursor, T *restrict grad, const T *cw, int64_t with_grad) {                     \
    enum { L = VBYTES / sizeof(T) };                                                                  \
    for (int64_t i = 0; i < n; i++) cursor[i] = imm_ptr[i];                                           \
    for (int64_t s = 0; s < n_spans; s++) {                                                           \
      const int64_t c0 = span_start[s], w = span_width[s];                                            \
      for (int64_t a = 0; a < n_active; a++)                                                          \
        memcpy(old + a * block, M + units[a] * P + c0, (size_t)w * sizeof(T));                        \
      for (int64_t i = 0; i < n; i++) {                                                               \
        T *o = M + i * P + c0;                                                                        \
        const T d = diag[i];                                                                          \
        const int64_t q0 = ptr[i], q1 = ptr[i + 1];                                                   \
        if (i + PREFETCH_ROWS < n) { /* the row segment after next: the hardware streamer misses it */ \
          const char *next = (const char *)(M + (i + PREFETCH_ROWS) * P + c0);                        \
          for (int64_t k = 0; k < w * (int64_t)sizeof(T); k += 64) __builtin_prefetch(next + k, 1, 3); \
        }                                                                                             \
        int64_t c = 0;                                                                                \
        for (; c + 4 * L <= w; c += 4 * L) {                                                          \
          NAME##_vec a0 = *(NAME##_vec *)(o + c) * d, a1 = *(NAME##_vec *)(o + c + L) * d;            \
          NAME##_vec a2 = *(NAME##_vec *)(o + c + 2 * L) * d, a3 = *(NAME##_vec *)(o + c + 3 * L) * d; \
          for (int64_t q = q0; q < q1; q++) {                                                         \
            const T *r = old + slots[q] * block + c;                                                  \
            const T v = vals[q];                                                                      \
            a0 += v * *(const NAME##_vec *)r;                                                         \
            a1 += v * *(const NAME##_vec *)(r + L);                                                   \
            a2 += v * *(const NAME##_vec *)(r + 2 * L);                                               \
            a3 += v * *(const NAME##_vec *)(r + 3 * L);                                               \
          }                                                                                           \
          *(NAME##_vec *)(o + c) = a0;                                                                \
          *(NAME##_vec *)(o + c + L) = a1;                                                            \
          *(NAME##_vec *)(o + c + 2 * L) = a2;                                                        \
          *(NAME##_vec *)(o + c + 3 * L) = a3;                                                        \
        }                                                                                             \
        for (; c + L <= w; c += L) { /* spans are whole segments: one vector at a time */            \
          NAME##_vec a0 = *(NAME##_vec *)(o + c) * d;                                                 \
          for (int64_t q = q0; q < q1; q++) a0 += vals[q] * *(const NAME##_vec *)(old + slots[q] * block + c); \
          *(NAME##_vec *)(o + c) = a0;                                                                \
        }                                                                                             \
        for (; c < w; c++) {                                                                          \
          T acc = d * o[c];                                                                           \
          for (int64_t q = q0; q < q1; q++) acc += vals[q] * old[slots[q] * block + c];               \
          o[c] = acc;                                                                                 \
        }                                                                                             \
        int64_t e = cursor[i];                                                                        \
        for (; e < imm_ptr[i + 1] && imm_col[e] < c0 + w; e++) o[imm_col[e] - c0] += imm_val[e];     \
        cursor[i] = e;                                                                                \
        if (with_grad && cw[i] != 0) {                                                                \
          const T g = cw[i];                                                                          \
          for (c = 0; c < w; c++) grad[c0 + c] += g * o[c];                                           \
        }                                                                                             \
      }                                                                                               \
    }                                                                                                 \
  }

DEFINE_PRODUCT(product_inner_f32, float)
DEFINE_PRODUCT(product_inner_f64, double)

#define DEFINE_ENTRY(NAME, INNER, T)                                                                  \
  void NAME(T *M, int64_t n, int64_t P, T *old, const int64_t *units, int64_t n_active,             \
            const T *diag, const int64_t *ptr, const int64_t *slots, const T *vals, int64_t block,   \
            const int64_t *span_start, const int64_t *span_width, int64_t n_spans,                   \
            const int64_t *imm_ptr, const int64_t *imm_col, const T *imm_val, int64_t *cursor,       \
            T *grad, const T *cw, int64_t with_grad) {                                                \
    FTZ_BEGIN                                                                                         \
    INNER(M, n, P, old, units, n_active, diag, ptr, slots, vals, block, span_start, span_width,       \
          n_spans, imm_ptr, imm_col, imm_val, cursor, grad, cw, with_grad);                           \
    FTZ_END                                                                                           \
  }

#if defined(__SSE__)
#define FTZ_BEGIN const unsigned int csr = _mm_getcsr(); _mm_setcsr(csr | 0x8040u);
#define FTZ_END _mm_setcsr(csr);
#else
#define FTZ_BEGIN
#define FTZ_END
#endif

DEFINE_ENTRY(influence_update_f32, product_inner_f32, float)
DEFINE_ENTRY(influence_update_f64, product_inner_f64, double)

/* Which vector width this build uses, in bytes (reported by the benchmarks). */
int influence_vector_bytes(void) { return VBYTES; }
