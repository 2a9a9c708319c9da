// Catch2 for the tests, included after LibTorch's logging macros. c10 defines a CHECK(condition)
// of its own, and whichever definition comes last wins: with <catch2/catch.hpp> first and a
// LibTorch header after it (as in a build without precompiled headers, e.g. the sanitizer
// build), every CHECK would silently become c10's abort-on-failure. Include this header instead
// of <catch2/catch.hpp>; c10's header guard keeps later LibTorch includes from redefining CHECK.
#pragma once

#include <c10/util/Logging.h>
#include <catch2/catch.hpp>
