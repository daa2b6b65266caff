#pragma once
/// \file
/// A trained model as a user names it: which regularizer, its architecture, and the channel
/// count it was built for. ModelSpec builds the regularizer (make_regularizer), travels inside
/// checkpoints as one text attribute ("key=value;..."), and lets a checkpoint be applied to new
/// images (load_model) without the training set it was trained on.

#include <bilevel/io/hdf5_file.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/icnn.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <map>
#include <memory>
#include <sstream>
#include <string>

namespace bilevel {

enum class RegularizerKind { crr = 0, icnn = 1, foe = 2, tv = 3 };

/// \brief Parses "crr", "icnn", "foe" or "tv".
inline RegularizerKind parse_regularizer(const std::string& s) {
  if (s == "crr") return RegularizerKind::crr;
  if (s == "icnn") return RegularizerKind::icnn;
  if (s == "foe") return RegularizerKind::foe;
  if (s == "tv") return RegularizerKind::tv;
  throw Error("unknown regularizer '" + s + "' (expected crr, icnn, foe or tv)");
}
inline std::string regularizer_name(RegularizerKind k) {
  const char* names[] = {"crr", "icnn", "foe", "tv"};
  return names[int(k)];
}

/// \brief Regularizer kind and architecture (defaults: the papers' architectures).
struct ModelSpec {
  RegularizerKind kind = RegularizerKind::crr;
  int channels = 3;  ///< image channels (1 grey, 3 colour)
  CrrOptions crr;
  IcnnOptions icnn;
  int foe_filters = 10, foe_kernel = 7;
  std::uint64_t seed = 0;  ///< initialisation

  /// "kind=crr;channels=3;crr.channels=4,8,64;..." (only the fields of this kind).
  std::string to_string() const {
    std::ostringstream s;
    s.precision(17);
    s << "kind=" << regularizer_name(kind) << ";channels=" << channels << ";seed=" << seed;
    if (kind == RegularizerKind::crr) {
      s << ";crr.channels=";
      for (std::size_t k = 0; k < crr.channels.size(); ++k) s << (k ? "," : "") << crr.channels[k];
      s << ";crr.kernel=" << crr.kernel_size
        << ";crr.potential=" << RidgePotential<double>{crr.potential, 1.0}.name()
        << ";crr.beta=" << crr.beta << ";crr.spectral_size=" << crr.spectral_size
        << ";crr.initial_scale=" << crr.initial_scale;
      // Written only when set, so descriptions from before the gain existed stay equal.
      if (crr.init_gain != 1.0) s << ";crr.init_gain=" << crr.init_gain;
      if (crr.max_scale != 0.0) s << ";crr.max_scale=" << crr.max_scale;
    } else if (kind == RegularizerKind::icnn) {
      s << ";icnn.hidden=" << icnn.hidden << ";icnn.out=" << icnn.out
        << ";icnn.kernel=" << icnn.kernel_size << ";icnn.nu=" << icnn.nu
        << ";icnn.initial_scale=" << icnn.initial_scale;
    } else if (kind == RegularizerKind::foe) {
      s << ";foe.filters=" << foe_filters << ";foe.kernel=" << foe_kernel;
    }
    return s.str();
  }

  /// Inverse of to_string. Throws naming the first malformed field.
  static ModelSpec parse(const std::string& text) {
    std::map<std::string, std::string> kv;
    std::istringstream in(text);
    for (std::string item; std::getline(in, item, ';');) {
      const auto eq = item.find('=');
      require(eq != std::string::npos, "model description: '", item, "' is not key=value");
      kv[item.substr(0, eq)] = item.substr(eq + 1);
    }
    auto get = [&](const std::string& key) {
      const auto it = kv.find(key);
      require(it != kv.end(), "model description: '", key, "' is missing");
      return it->second;
    };
    // Every field is read whole: "8x", "" or "1e999" name the field instead of escaping as
    // std::invalid_argument("stoi").
    const auto to_int = [](const std::string& t, std::size_t* used) { return std::stoi(t, used); };
    const auto to_real = [](const std::string& t, std::size_t* used) { return std::stod(t, used); };
    const auto to_seed = [](const std::string& t, std::size_t* used) {
      if (t.find('-') != std::string::npos) throw std::invalid_argument("negative");
      return std::stoull(t, used);
    };
    const auto number = [](const std::string& key, const std::string& text, auto parse,
                           const char* what) {
      try {
        std::size_t used = 0;
        const auto v = parse(text, &used);
        if (used == text.size()) return v;
      } catch (const std::logic_error&) {
      }
      throw Error("model description: '" + key + "' is not " + what + " ('" + text + "')");
    };
    auto integer = [&](const std::string& key) {
      return number(key, get(key), to_int, "an integer");
    };
    auto real = [&](const std::string& key) { return number(key, get(key), to_real, "a number"); };
    ModelSpec m;
    m.kind = parse_regularizer(get("kind"));
    m.channels = integer("channels");
    m.seed = number("seed", get("seed"), to_seed, "a seed");
    if (m.kind == RegularizerKind::crr) {
      m.crr.channels.clear();
      std::istringstream cs(get("crr.channels"));
      for (std::string c; std::getline(cs, c, ',');)
        m.crr.channels.push_back(number("crr.channels", c, to_int, "a list of integers"));
      require(!m.crr.channels.empty(), "model description: 'crr.channels' is empty");
      m.crr.kernel_size = integer("crr.kernel");
      m.crr.potential = parse_ridge_potential(get("crr.potential"));
      m.crr.beta = real("crr.beta");
      m.crr.spectral_size = integer("crr.spectral_size");
      // Older descriptions lack the initial scales; they only affect a fresh initialisation.
      if (kv.count("crr.initial_scale")) m.crr.initial_scale = real("crr.initial_scale");
      if (kv.count("crr.init_gain")) m.crr.init_gain = real("crr.init_gain");
      if (kv.count("crr.max_scale")) m.crr.max_scale = real("crr.max_scale");
    } else if (m.kind == RegularizerKind::icnn) {
      m.icnn.hidden = integer("icnn.hidden");
      m.icnn.out = integer("icnn.out");
      m.icnn.kernel_size = integer("icnn.kernel");
      m.icnn.nu = real("icnn.nu");
      if (kv.count("icnn.initial_scale")) m.icnn.initial_scale = real("icnn.initial_scale");
    } else if (m.kind == RegularizerKind::foe) {
      m.foe_filters = integer("foe.filters");
      m.foe_kernel = integer("foe.kernel");
    }
    return m;
  }
};

/// \brief A freshly initialised regularizer of the given kind and architecture.
template <class Scalar, class ExecSpace = DefaultExecSpace>
std::unique_ptr<Regularizer<Scalar, ExecSpace>> make_regularizer(const ExecSpace& space,
                                                                 const ModelSpec& m) {
  require(m.channels == 1 || m.channels == 3, "bilevel::make_regularizer: ", m.channels,
          " image channels (expected 1 or 3)");
  switch (m.kind) {
    case RegularizerKind::crr:
      return std::make_unique<ConvexRidge<Scalar, ExecSpace>>(space, m.channels, m.crr, m.seed);
    case RegularizerKind::icnn:
      return std::make_unique<InputConvexNet<Scalar, ExecSpace>>(space, m.channels, m.icnn, m.seed);
    case RegularizerKind::foe:
      return std::make_unique<FieldOfExperts<Scalar, ExecSpace>>(space, m.channels, m.foe_filters,
                                                                 m.foe_kernel, m.seed);
    default:
      return std::make_unique<SmoothedTV<Scalar, ExecSpace>>(space, m.channels);
  }
}

/// Name of the checkpoint attribute that holds ModelSpec::to_string().
inline const char* model_attribute() { return "model"; }

/// \brief The model a checkpoint was trained with (throws if it names none).
inline ModelSpec read_model_spec(const std::string& path) {
  io::Hdf5File f(path, io::Hdf5File::Mode::read);
  require(f.has_attribute(model_attribute()), "checkpoint '", path,
          "' does not describe its model (written by a program other than bilevel-train?)");
  return ModelSpec::parse(f.read_attribute(model_attribute()));
}

/// Which parameters of a checkpoint load_model returns.
enum class ModelChoice {
  best,  ///< the validation-selected ones when the run had validation data, else the last
  last   ///< the last iterate's
};

/// \brief Whether a checkpoint holds validation-selected parameters (best.theta), and from
/// which step (-1: none).
inline long best_model_step(const std::string& path) {
  io::Hdf5File f(path, io::Hdf5File::Mode::read);
  if (!f.has("best.step")) return -1;
  const auto v = f.read_ints("best.step");
  return v.size() == 1 ? long(v[0]) : -1;
}

/// \brief The regularizer of a checkpoint, with its trained parameters and internal state
/// (`which`: the validation-selected model, if the run kept one, or the last iterate).
template <class Scalar, class ExecSpace = DefaultExecSpace>
std::unique_ptr<Regularizer<Scalar, ExecSpace>> load_model(const ExecSpace& space,
                                                           const std::string& path,
                                                           ModelChoice which = ModelChoice::best) {
  auto reg = make_regularizer<Scalar, ExecSpace>(space, read_model_spec(path));
  io::Hdf5File f(path, io::Hdf5File::Mode::read);
  const std::string prefix = which == ModelChoice::best && f.has("best.theta") ? "best." : "";
  const std::vector<double> theta = f.read_doubles(prefix + "theta");
  require(theta.size() == std::size_t(reg->num_params()), "checkpoint '", path, "' holds ",
          theta.size(), " parameters, its model has ", reg->num_params());
  reg->set_internal_state(space, f.read_doubles(prefix + "regularizer_state"));
  reg->set_params(space, std::vector<Scalar>(theta.begin(), theta.end()));
  return reg;
}

}  // namespace bilevel
