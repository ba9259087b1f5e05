#pragma once
// Which member a new client is sent to (docs/director.md, "Placement"). Pure: the view's members,
// whether the view is trusted, and a random source in; a member or the reason there is none out.
//
// Eligible: not draining, not degraded, sessions below capacity. Among the eligible, the two
// least loaded (load = sessions / capacity; equal loads in random order) are the candidates, and
// one of the two is drawn at random, each with a weight proportional to its free fraction
// (1 - load). Records are republished every few seconds, not per login: between two updates
// every director sees the same "least loaded" member, and a burst of logins would all land on
// it. Two weighted candidates split a burst (evenly when their loads are equal, mostly to the
// emptier one when they are not), and random tie-breaks spread it over all members of equal load.
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <variant>

#include "director/member_view.hpp"

namespace tandem::director {

// Returns a number in [0, bound), bound >= 1. Tests pass a scripted one.
using Random = std::function<std::size_t(std::size_t bound)>;

struct NoMember {
  enum class Why { no_members, silent, none_eligible };
  Why why = Why::no_members;
  std::size_t draining = 0, degraded = 0, full = 0;  // for none_eligible
  std::string reason;                                // for X-Reason and the log
};

using Placement = std::variant<const Member*, NoMember>;

// `silent`: the view has not been confirmed by etcd for longer than the bound; no member is
// trusted then (it may have died and its record expired without the director hearing of it).
Placement place(const std::map<std::string, Member>& members, bool silent, const Random& random);

}  // namespace tandem::director
