// Stand-in for CuPy's <cupy/carray.cuh>, used by tests/gpu/test_compile.py where CuPy is not
// installed: the same names, template parameters, const-ness and member signatures that the code
// CuPy generates for an ElementwiseKernel uses (CUPY_FOR, CArray<T, ndim, c_contiguous,
// use_32bit_indexing>, CIndexer<ndim, use_32bit_indexing> with size/set/get), written for this
// test. Where CuPy is installed the test compiles against CuPy's own headers instead.
#ifndef RTRL_CUPY_STANDIN_CUH
#define RTRL_CUPY_STANDIN_CUH

#define CUPY_FOR(i, n) \
    for (ptrdiff_t i = static_cast<ptrdiff_t>(blockIdx.x) * blockDim.x + threadIdx.x; \
         i < (n); \
         i += static_cast<ptrdiff_t>(blockDim.x) * gridDim.x)

template <typename T, int _ndim, bool _c_contiguous = false, bool _use_32bit_indexing = false>
class CArray {
public:
  static const int ndim = _ndim;

  __device__ const T& operator[](const ptrdiff_t (&idx)[_ndim]) const {
    ptrdiff_t offset = 0;  // in bytes, as CuPy's strides are
    for (int d = 0; d < _ndim; ++d) offset += idx[d] * strides_[d];
    return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(data_) + offset);
  }

  __device__ T& operator[](const ptrdiff_t (&idx)[_ndim]) {
    return const_cast<T&>(static_cast<const CArray&>(*this)[idx]);
  }

private:
  T* data_;
  ptrdiff_t size_;
  ptrdiff_t shape_[_ndim];
  ptrdiff_t strides_[_ndim];
};

template <int _ndim, bool _use_32bit_indexing = false>
class CIndexer {
public:
  typedef ptrdiff_t index_t[_ndim];

  __device__ ptrdiff_t size() const { return size_; }

  __device__ const index_t& get() const { return index_; }

  __device__ void set(ptrdiff_t i) {
    for (int d = _ndim - 1; d > 0; --d) {
      index_[d] = i % shape_[d];
      i /= shape_[d];
    }
    index_[0] = i;
  }

private:
  ptrdiff_t size_;
  ptrdiff_t shape_[_ndim];
  ptrdiff_t index_[_ndim];
};

#endif  // RTRL_CUPY_STANDIN_CUH
