#pragma once
// Reads a tunnel group's profile file and checks it (xml_profile.hpp). Used by load_config, so
// a bad profile is a configuration error at start and at reload (the running one stays).
#include <memory>
#include <string>

#include "base/result.hpp"
#include "node/profile/xml_profile.hpp"

namespace tandem::profile {

Result<std::shared_ptr<const XmlProfile>> load_profile_file(const std::string& path);

}  // namespace tandem::profile
