package infra

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The EKS Kubernetes calendar and what depends on each minor version, as data with its sources and the date it
// was taken. This is the one place a version or a support window is written (prices, the control plane's included,
// are in prices.json); the program, the offline plan and the tests read it from here. It goes stale: CalendarStale
// says when.
const (
	// KubernetesCalendarSource is the EKS user guide's release calendar (Kubernetes version lifecycle).
	KubernetesCalendarSource = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"
	// AutoscalerChartSource is where the chart versions and their appVersions come from: the tags
	// cluster-autoscaler-chart-<version> of the kubernetes/autoscaler repository (charts/cluster-autoscaler before
	// 9.52.0, cluster-autoscaler/charts/cluster-autoscaler since), each rendered with `helm template`.
	AutoscalerChartSource = "https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler/charts/cluster-autoscaler"
	// CalendarChecked is the day the calendar and the chart pins were last checked.
	CalendarChecked = "2026-12-04"
	// CalendarMaxAge is how long the calendar is trusted: EKS adds a minor version about every four months.
	CalendarMaxAge = 120 * 24 * time.Hour
)

// EKS control-plane prices, USD per cluster-hour, in every commercial region, from the price list (prices.json,
// with its source).
var (
	ControlPlaneStandardPerHour = Prices.EKSControlPlane.StandardPerHour
	ControlPlaneExtendedPerHour = Prices.EKSControlPlane.ExtendedPerHour
)

// KubernetesVersion is one EKS Kubernetes minor version.
type KubernetesVersion struct {
	Version string
	// Released, StandardUntil and ExtendedUntil are the EKS release, the end of standard support and the end of
	// extended support (after which EKS upgrades the cluster itself), as YYYY-MM-DD. AWS bills extended support
	// from the beginning (UTC) of the end-of-standard day, so that day is already extended.
	Released, StandardUntil, ExtendedUntil string
	// AutoscalerChart is the cluster-autoscaler chart for this minor version: the autoscaler is built against one
	// scheduler release and must match the cluster's minor version.
	AutoscalerChart string
	// AutoscalerImageTag is the Cluster Autoscaler the chart runs (its image.tag value), of this minor version:
	// the chart's own appVersion where a chart ships the minor version, else the newest release of it.
	AutoscalerImageTag string
}

// KubernetesVersions are the versions EKS offers, oldest first. 1.32 to 1.34 are in extended support on
// CalendarChecked; 1.35 and 1.36 in standard support.
//
// Autoscaler: charts 9.46.6, 9.51.0 and 9.53.0 have appVersion 1.32.0, 1.33.0 and 1.34.2. Chart 9.59.0 (2026-07-21,
// the newest) has appVersion 1.35.0; no chart ships a 1.35 patch or any 1.36 release yet, so 1.35 and 1.36 run
// 9.59.0 with the newest autoscaler of their minor version (v1.35.2 and v1.36.1, released 2026-07-22). Each row
// was rendered with `helm template` from the chart at its tag with this platform's values.
var KubernetesVersions = []KubernetesVersion{
	{Version: "1.32", Released: "2025-01-23", StandardUntil: "2026-03-23", ExtendedUntil: "2027-03-23",
		AutoscalerChart: "9.46.6", AutoscalerImageTag: "v1.32.0"},
	{Version: "1.33", Released: "2025-05-29", StandardUntil: "2026-07-29", ExtendedUntil: "2027-07-29",
		AutoscalerChart: "9.51.0", AutoscalerImageTag: "v1.33.0"},
	{Version: "1.34", Released: "2025-10-02", StandardUntil: "2026-12-02", ExtendedUntil: "2027-12-02",
		AutoscalerChart: "9.53.0", AutoscalerImageTag: "v1.34.2"},
	{Version: "1.35", Released: "2026-01-27", StandardUntil: "2027-03-27", ExtendedUntil: "2028-03-27",
		AutoscalerChart: "9.59.0", AutoscalerImageTag: "v1.35.2"},
	{Version: "1.36", Released: "2026-06-02", StandardUntil: "2027-08-02", ExtendedUntil: "2028-08-02",
		AutoscalerChart: "9.59.0", AutoscalerImageTag: "v1.36.1"},
}

// LookupKubernetesVersion returns the calendar entry of a minor version.
func LookupKubernetesVersion(version string) (KubernetesVersion, bool) {
	for _, v := range KubernetesVersions {
		if v.Version == version {
			return v, true
		}
	}
	return KubernetesVersion{}, false
}

// KubernetesVersionNames are the calendar's versions, oldest first.
func KubernetesVersionNames() []string {
	out := make([]string, len(KubernetesVersions))
	for i, v := range KubernetesVersions {
		out[i] = v.Version
	}
	return out
}

// Support is where a version stands on a day.
type Support string

const (
	SupportStandard Support = "standard"
	SupportExtended Support = "extended"
	SupportEnded    Support = "ended"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(fmt.Sprintf("calendar date %q: %v", s, err))
	}
	return t
}

// SupportOn is the version's support on that day: standard before StandardUntil, extended from then until
// ExtendedUntil, ended from ExtendedUntil on (the ends count from the start of the day, UTC).
func (v KubernetesVersion) SupportOn(today time.Time) Support {
	d := today.UTC().Truncate(24 * time.Hour)
	switch {
	case d.Before(day(v.StandardUntil)):
		return SupportStandard
	case d.Before(day(v.ExtendedUntil)):
		return SupportExtended
	}
	return SupportEnded
}

// ControlPlanePerHour is the cluster's control-plane price on that day.
func (v KubernetesVersion) ControlPlanePerHour(today time.Time) float64 {
	if v.SupportOn(today) == SupportStandard {
		return ControlPlaneStandardPerHour
	}
	return ControlPlaneExtendedPerHour
}

// HoursPerMonth is the month AWS prices by (730 hours), from the price list.
var HoursPerMonth = Prices.HoursPerMonth

// Status is one line on the version for a plan or a warning: support, until when, and the control-plane price.
func (v KubernetesVersion) Status(today time.Time) string {
	price := v.ControlPlanePerHour(today)
	cost := fmt.Sprintf("control plane $%.2f/hour (about $%.0f a month)", price, price*HoursPerMonth)
	switch v.SupportOn(today) {
	case SupportStandard:
		return fmt.Sprintf("Kubernetes %s: EKS standard support until %s; %s", v.Version, v.StandardUntil, cost)
	case SupportExtended:
		return fmt.Sprintf("Kubernetes %s: EKS extended support since %s, until %s; %s, %.0f times the standard price",
			v.Version, v.StandardUntil, v.ExtendedUntil, cost, ControlPlaneExtendedPerHour/ControlPlaneStandardPerHour)
	}
	return fmt.Sprintf("Kubernetes %s: EKS support ended on %s; EKS upgrades such clusters itself", v.Version, v.ExtendedUntil)
}

// NewestStandardVersion is the newest version in standard support on that day ("" if none, when the calendar is
// out of date).
func NewestStandardVersion(today time.Time) string {
	newest := ""
	for _, v := range KubernetesVersions {
		if v.SupportOn(today) == SupportStandard {
			newest = v.Version
		}
	}
	return newest
}

// CalendarStale says why the calendar can no longer be trusted on that day, or "": it was checked more than
// CalendarMaxAge ago, or no version it lists is in standard support any more.
func CalendarStale(today time.Time) string {
	checked := day(CalendarChecked)
	switch {
	case NewestStandardVersion(today) == "":
		return fmt.Sprintf("the EKS version calendar in infra/versions.go (checked %s) lists no version in standard support on %s: "+
			"add the versions EKS offers now (%s)", CalendarChecked, today.Format(time.DateOnly), KubernetesCalendarSource)
	case today.Sub(checked) > CalendarMaxAge:
		return fmt.Sprintf("the EKS version calendar in infra/versions.go was checked on %s, more than %d days ago: EKS may offer "+
			"newer versions; check %s", CalendarChecked, int(CalendarMaxAge.Hours()/24), KubernetesCalendarSource)
	}
	return ""
}

// MinorsBetween is how many minor versions lie from one version to another (negative for a downgrade).
func MinorsBetween(from, to string) (int, error) {
	a, err := minor(from)
	if err != nil {
		return 0, err
	}
	b, err := minor(to)
	if err != nil {
		return 0, err
	}
	return b - a, nil
}

func minor(v string) (int, error) {
	major, m, ok := strings.Cut(v, ".")
	if !ok || major != "1" {
		return 0, fmt.Errorf("%q is not a Kubernetes 1.x minor version", v)
	}
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0, fmt.Errorf("%q is not a Kubernetes 1.x minor version", v)
	}
	return n, nil
}

// NextKubernetesVersion is the minor version after v ("1.34" -> "1.35").
func NextKubernetesVersion(v string) string {
	n, err := minor(v)
	if err != nil {
		return ""
	}
	return "1." + strconv.Itoa(n+1)
}
