// moearch: ap_int<N> / ap_uint<N> for plain C++17 compilers (C simulation with g++ or clang).
//
// Under __SYNTHESIS__ (Vitis HLS) the vendor header <ap_int.h> is used instead.
//
// Documented subset of the Vitis HLS arbitrary-precision types, 1 <= N <= 64:
//  * A value is stored wrapped to N bits: ap_int<N> two's complement in [-2^(N-1), 2^(N-1)),
//    ap_uint<N> in [0, 2^N). Construction and assignment from any integer type or any other
//    ap_int/ap_uint width wrap (keep the low N bits), as in Vitis HLS (AP_TRN, AP_WRAP).
//  * Values convert implicitly to a 64-bit C++ integer: int64_t for ap_int<N> and for ap_uint<N>
//    with N <= 31, uint64_t for ap_uint<N> with N >= 32. Binary operators (+ - * / % & | ^ << >>,
//    comparisons) are the C++ operators on those types, so a result is exact (as Vitis' widened
//    result types are) whenever it fits the 64-bit type, and wraps when assigned back to an
//    ap type. Example: ap_int<8> a = 100, b = 100; int64_t p = a * b;  // 10000
//                      ap_int<8> c = a * b;                              // 16 (10000 mod 256)
//    Not emulated: results wider than 64 bits (e.g. products of two ap_int<40>).
//  * Compound assignment (+= -= *= /= %= &= |= ^= <<= >>=), ++ and -- wrap to N bits
//    (computed in uint64_t, so there is no signed-overflow undefined behaviour). >> and >>= are
//    arithmetic for ap_int and logical for ap_uint.
//  * Bits: x[i] (read, or assign a bool), get_bit/set_bit, x.range(hi, lo) (read as an unsigned
//    value, or assign), to_int/to_uint/to_int64/to_uint64/to_long, length(), operator<< on ostream.
//  * Not provided: floating-point construction, fixed point (ap_fixed), reduction methods, strings.
#ifndef MOEARCH_AP_INT_COMPAT_H
#define MOEARCH_AP_INT_COMPAT_H

#ifdef __SYNTHESIS__
#include <ap_int.h>
#else

#include <cstdint>
#include <ostream>
#include <type_traits>

namespace moearch_hls {

template <int N>
struct width_check {
  static_assert(N >= 1 && N <= 64, "the ap_int compat layer supports 1..64 bits");
  static constexpr uint64_t mask = N == 64 ? ~uint64_t{0} : ((uint64_t{1} << (N % 64)) - 1);
};

template <int N>
constexpr int64_t wrap_signed(uint64_t bits) {
  uint64_t low = bits & width_check<N>::mask;
  if (N < 64 && ((low >> (N - 1)) & 1U)) {
    low |= ~width_check<N>::mask;
  }
  return static_cast<int64_t>(low);
}

template <int N>
constexpr uint64_t wrap_unsigned(uint64_t bits) {
  return bits & width_check<N>::mask;
}

// A writable view of bits [hi:lo] of an ap value.
template <typename Parent>
class range_ref {
 public:
  constexpr range_ref(Parent* parent, int hi, int lo) : parent_(parent), hi_(hi), lo_(lo) {}
  constexpr uint64_t to_uint64() const {
    const uint64_t bits = parent_->to_raw();
    const int w = hi_ - lo_ + 1;
    const uint64_t m = w >= 64 ? ~uint64_t{0} : ((uint64_t{1} << w) - 1);
    return (bits >> lo_) & m;
  }
  constexpr uint64_t to_raw() const { return to_uint64(); }
  constexpr operator uint64_t() const { return to_uint64(); }
  range_ref& operator=(uint64_t value) {
    const int w = hi_ - lo_ + 1;
    const uint64_t m = (w >= 64 ? ~uint64_t{0} : ((uint64_t{1} << w) - 1)) << lo_;
    parent_->set_raw((parent_->to_raw() & ~m) | ((value << lo_) & m));
    return *this;
  }
  range_ref& operator=(const range_ref& other) { return *this = other.to_uint64(); }

 private:
  Parent* parent_;
  int hi_;
  int lo_;
};

// A writable view of one bit of an ap value.
template <typename Parent>
class bit_ref {
 public:
  constexpr bit_ref(Parent* parent, int index) : parent_(parent), index_(index) {}
  constexpr operator bool() const { return (parent_->to_raw() >> index_) & 1U; }
  bit_ref& operator=(bool value) {
    parent_->set_bit(index_, value);
    return *this;
  }
  bit_ref& operator=(const bit_ref& other) { return *this = static_cast<bool>(other); }

 private:
  Parent* parent_;
  int index_;
};

}  // namespace moearch_hls

namespace moearch_hls {

// Storage and behaviour shared by ap_int<N> (Signed) and ap_uint<N>; Derived is the CRTP type.
template <typename Derived, int N, bool Signed>
class ap_base {
  static_assert(N >= 1 && N <= 64, "the ap_int compat layer supports 1..64 bits");

 public:
  using store_type = std::conditional_t<(Signed || N <= 31), int64_t, uint64_t>;
  static constexpr int width = N;

  constexpr ap_base() : v_(0) {}
  template <typename T, typename = std::enable_if_t<std::is_integral<T>::value>>
  constexpr ap_base(T x) : v_(wrap(static_cast<uint64_t>(x))) {}
  template <typename D2, int M, bool S2>
  constexpr ap_base(const ap_base<D2, M, S2>& x) : v_(wrap(x.to_raw())) {}
  template <typename P>
  constexpr ap_base(const range_ref<P>& r) : v_(wrap(r.to_uint64())) {}

  constexpr operator store_type() const { return v_; }
  constexpr uint64_t to_raw() const { return static_cast<uint64_t>(v_); }
  constexpr void set_raw(uint64_t bits) { v_ = wrap(bits); }
  constexpr int length() const { return N; }
  constexpr int to_int() const { return static_cast<int>(v_); }
  constexpr unsigned to_uint() const { return static_cast<unsigned>(v_); }
  constexpr long to_long() const { return static_cast<long>(v_); }
  constexpr int64_t to_int64() const { return static_cast<int64_t>(v_); }
  constexpr uint64_t to_uint64() const { return static_cast<uint64_t>(v_); }

  constexpr bool get_bit(int i) const { return (to_raw() >> i) & 1U; }
  constexpr void set_bit(int i, bool b) {
    set_raw(b ? (to_raw() | (uint64_t{1} << i)) : (to_raw() & ~(uint64_t{1} << i)));
  }
  constexpr bool operator[](int i) const { return get_bit(i); }
  bit_ref<Derived> operator[](int i) { return {&self(), i}; }
  range_ref<Derived> range(int hi, int lo) { return {&self(), hi, lo}; }
  constexpr uint64_t range(int hi, int lo) const {
    return range_ref<const Derived>(&static_cast<const Derived&>(*this), hi, lo).to_uint64();
  }

  template <typename T>
  Derived& operator+=(const T& x) { return assign(to_raw() + bits_of(x)); }
  template <typename T>
  Derived& operator-=(const T& x) { return assign(to_raw() - bits_of(x)); }
  template <typename T>
  Derived& operator*=(const T& x) { return assign(to_raw() * bits_of(x)); }
  template <typename T>
  Derived& operator&=(const T& x) { return assign(to_raw() & bits_of(x)); }
  template <typename T>
  Derived& operator|=(const T& x) { return assign(to_raw() | bits_of(x)); }
  template <typename T>
  Derived& operator^=(const T& x) { return assign(to_raw() ^ bits_of(x)); }
  template <typename T>
  Derived& operator/=(const T& x) { return assign(static_cast<uint64_t>(v_ / x)); }
  template <typename T>
  Derived& operator%=(const T& x) { return assign(static_cast<uint64_t>(v_ % x)); }
  Derived& operator<<=(int s) { return assign(s >= 64 ? 0 : to_raw() << s); }
  Derived& operator>>=(int s) { return assign(static_cast<uint64_t>(v_ >> (s > 63 ? 63 : s))); }
  Derived& operator++() { return *this += 1; }
  Derived& operator--() { return *this -= 1; }
  Derived operator++(int) {
    Derived old = self();
    *this += 1;
    return old;
  }
  Derived operator--(int) {
    Derived old = self();
    *this -= 1;
    return old;
  }

 private:
  static constexpr store_type wrap(uint64_t bits) {
    if constexpr (Signed) {
      return wrap_signed<N>(bits);
    } else {
      return static_cast<store_type>(wrap_unsigned<N>(bits));
    }
  }
  template <typename T>
  static constexpr uint64_t bits_of(const T& x) {
    if constexpr (std::is_integral<T>::value) {
      return static_cast<uint64_t>(x);
    } else {
      return static_cast<uint64_t>(x.to_raw());
    }
  }
  Derived& self() { return static_cast<Derived&>(*this); }
  Derived& assign(uint64_t bits) {
    v_ = wrap(bits);
    return self();
  }

  store_type v_;
};

}  // namespace moearch_hls

template <int N>
class ap_int : public moearch_hls::ap_base<ap_int<N>, N, true> {
 public:
  using moearch_hls::ap_base<ap_int<N>, N, true>::ap_base;
};

template <int N>
class ap_uint : public moearch_hls::ap_base<ap_uint<N>, N, false> {
 public:
  using moearch_hls::ap_base<ap_uint<N>, N, false>::ap_base;
};

template <int N>
std::ostream& operator<<(std::ostream& os, const ap_int<N>& x) {
  return os << x.to_int64();
}

template <int N>
std::ostream& operator<<(std::ostream& os, const ap_uint<N>& x) {
  return os << x.to_uint64();
}

#endif  // __SYNTHESIS__
#endif  // MOEARCH_AP_INT_COMPAT_H
