// Package cost estimates a stack's monthly AWS cost from its planned resources and the price list
// (infra/prices.json). The Go program's offline plan and the component's share it: it reads only the planned
// resources, whichever program registered them.
//
// It prices what runs by the hour or the month (the EKS control plane, NAT gateways, public IPv4 addresses,
// nodes, their root volumes, KMS keys) and lists what depends on traffic or data (NAT data processing, log
// ingestion and storage, image storage) as a price per GB, never as a guess. A price the list lacks is reported
// ("no price for <type> in <region>"), never counted as zero.
package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

// Line is one priced item: Quantity units at UnitPrice (per Unit), Monthly in the list's currency.
type Line struct {
	Item      string  `json:"item"`
	Quantity  float64 `json:"quantity"`
	Unit      string  `json:"unit"` // "hour" or "month"
	UnitPrice float64 `json:"unitPrice"`
	Monthly   float64 `json:"monthly"`
	Detail    string  `json:"detail"`
	// Missing says why the line has no price ("no price for m7i.large in eu-west-1"): it is not in Monthly.
	Missing string `json:"missing,omitempty"`
}

// Usage is a price that depends on traffic or stored data: per GB or per GB-month, not estimated.
type Usage struct {
	Item  string  `json:"item"`
	Price float64 `json:"price"`
	Per   string  `json:"per"` // "GB" or "GB-month"
	Note  string  `json:"note,omitempty"`
}

// Estimate is a stack's estimated monthly cost.
type Estimate struct {
	Stack         string  `json:"stack"`
	Region        string  `json:"region"`
	PricesTaken   string  `json:"pricesTaken"`
	Currency      string  `json:"currency"`
	HoursPerMonth float64 `json:"hoursPerMonth"`
	Lines         []Line  `json:"lines"`
	Usage         []Usage `json:"usage"`
	// Monthly is the sum of the priced lines; Incomplete when a line has no price.
	Monthly    float64 `json:"monthly"`
	Incomplete bool    `json:"incomplete"`
	// Warnings: an old price list, spot capacity priced at on-demand.
	Warnings []string `json:"warnings,omitempty"`
}

// Of estimates the planned resources of a stack in a region, with a price list, on a day (which decides the
// control plane's support and whether the list is old).
func Of(res *plan.Result, region string, prices infra.PriceList, today time.Time) Estimate {
	e := Estimate{Stack: res.Stack, Region: region, PricesTaken: prices.Taken, Currency: prices.Currency, HoursPerMonth: prices.HoursPerMonth}
	if w := prices.PricesStale(today); w != "" {
		e.Warnings = append(e.Warnings, w)
	}
	rp, regionKnown := prices.Regions[region]
	noRegion := fmt.Sprintf("no prices for region %s in %s", region, infra.PricesFile)
	if region == "" {
		noRegion = "the stack sets no aws:region"
	}
	if !regionKnown {
		e.Warnings = append(e.Warnings, noRegion+": only the EKS control plane is priced")
	}
	usage := func(u Usage) {
		if regionKnown {
			e.Usage = append(e.Usage, u)
		}
	}
	hours := prices.HoursPerMonth
	add := func(l Line) {
		switch {
		case l.Missing != "":
		case l.Unit == "hour":
			l.Monthly = round(l.Quantity * l.UnitPrice * hours)
		default:
			l.Monthly = round(l.Quantity * l.UnitPrice)
		}
		e.Lines = append(e.Lines, l)
	}
	regional := func(item string, qty float64, unit string, price float64, detail string) {
		l := Line{Item: item, Quantity: qty, Unit: unit, UnitPrice: price, Detail: detail}
		if !regionKnown {
			l.Missing, l.UnitPrice = noRegion, 0
		}
		add(l)
	}

	// EKS control plane: the same price in every commercial region, by the version's support on that day.
	for _, c := range res.Find(plan.EKSClusterType) {
		version := c.Str("version")
		l := Line{Item: "EKS control plane", Quantity: 1, Unit: "hour"}
		if v, ok := infra.LookupKubernetesVersion(version); ok {
			l.UnitPrice = v.ControlPlanePerHour(today)
			l.Detail = fmt.Sprintf("Kubernetes %s, %s support", version, v.SupportOn(today))
		} else {
			l.Missing = fmt.Sprintf("Kubernetes %q is not in the EKS calendar (infra/versions.go)", version)
		}
		add(l)
	}
	if n := len(res.Find("aws:ec2/natGateway:NatGateway")); n > 0 {
		regional("NAT gateways", float64(n), "hour", rp.NATGatewayPerHour, "")
		usage(Usage{Item: "NAT data processing", Price: rp.NATGatewayPerGB, Per: "GB", Note: "every GB through a NAT gateway, both ways"})
	}
	if n := len(res.Find("aws:ec2/eip:Eip")); n > 0 {
		regional("public IPv4 addresses", float64(n), "hour", rp.PublicIPv4PerHour, "Elastic IPs")
	}
	for _, ng := range res.Find("aws:eks/nodeGroup:NodeGroup") {
		nodes := number(ng.In("scalingConfig.desiredSize"))
		types := ng.Strs("instanceTypes")
		capacity := ng.Str("capacityType")
		l := Line{Item: "nodes", Quantity: nodes, Unit: "hour"}
		if len(types) > 0 {
			price, ok := rp.InstancePerHour[types[0]]
			l.UnitPrice = price
			l.Detail = fmt.Sprintf("%s on-demand", types[0])
			if len(types) > 1 {
				l.Detail += fmt.Sprintf(" (the first of %s)", strings.Join(types, ", "))
			}
			switch {
			case !regionKnown:
				l.Missing = noRegion
			case !ok:
				l.Missing = fmt.Sprintf("no price for %s in %s", types[0], region)
			}
		}
		if capacity == "SPOT" {
			l.Detail += "; SPOT capacity, priced at on-demand as an upper bound"
			e.Warnings = append(e.Warnings, "the nodes run on SPOT capacity, whose price varies: the estimate prices them at on-demand, an upper bound")
		}
		add(l)
		for _, lt := range res.Find("aws:ec2/launchTemplate:LaunchTemplate") {
			if lt.Parent != ng.Parent {
				continue
			}
			for _, m := range list(lt.In("blockDeviceMappings")) {
				ebs, _ := m.(map[string]any)["ebs"].(map[string]any)
				if ebs == nil {
					continue
				}
				size, typ := number(ebs["volumeSize"]), fmt.Sprint(ebs["volumeType"])
				if typ != "gp3" {
					add(Line{Item: "node root volumes", Quantity: nodes * size, Unit: "month", Missing: fmt.Sprintf("no price for %s volumes in %s", typ, region)})
					continue
				}
				regional("node root volumes", nodes*size, "month", rp.GP3PerGBMonth, fmt.Sprintf("%.0f × %.0f GiB gp3", nodes, size))
			}
		}
	}
	if n := len(res.Find("aws:kms/key:Key")); n > 0 {
		regional("KMS keys", float64(n), "month", rp.KMSKeyPerMonth, "")
	}
	if groups := res.Find("aws:cloudwatch/logGroup:LogGroup"); len(groups) > 0 {
		var retention []string
		for _, g := range groups {
			retention = append(retention, fmt.Sprintf("%.0f", number(g.In("retentionInDays"))))
		}
		slices.Sort(retention)
		retention = slices.Compact(retention)
		usage(Usage{Item: "CloudWatch Logs ingestion", Price: rp.LogsIngestionPerGB, Per: "GB", Note: "flow logs and the control plane's logs (the audit log is the largest)"})
		usage(Usage{Item: "CloudWatch Logs storage", Price: rp.LogsStoragePerGBMonth, Per: "GB-month", Note: fmt.Sprintf("kept %s days", strings.Join(retention, ", "))})
	}
	if repos := res.Find("aws:ecr/repository:Repository"); len(repos) > 0 {
		note := ""
		if keep := retainedImages(res); keep > 0 {
			note = fmt.Sprintf("the lifecycle keeps %d tagged images; their size is the service's", keep)
		}
		usage(Usage{Item: "ECR storage", Price: rp.ECRStoragePerGBMonth, Per: "GB-month", Note: note})
	}

	for _, l := range e.Lines {
		if l.Missing != "" {
			e.Incomplete = true
		}
		e.Monthly += l.Monthly
	}
	e.Monthly = round(e.Monthly)
	return e
}

// retainedImages is the count of tagged images the ECR lifecycle policies keep (their imageCountMoreThan rule).
func retainedImages(res *plan.Result) int {
	for _, p := range res.Find("aws:ecr/lifecyclePolicy:LifecyclePolicy") {
		var policy struct {
			Rules []struct {
				Selection struct {
					TagStatus   string `json:"tagStatus"`
					CountType   string `json:"countType"`
					CountNumber int    `json:"countNumber"`
				} `json:"selection"`
			} `json:"rules"`
		}
		if json.Unmarshal([]byte(p.Str("policy")), &policy) != nil {
			continue
		}
		for _, r := range policy.Rules {
			if r.Selection.CountType == "imageCountMoreThan" && r.Selection.TagStatus != "untagged" {
				return r.Selection.CountNumber
			}
		}
	}
	return 0
}

func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	}
	return 0
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// round is to the cent.
func round(v float64) float64 { return math.Round(v*100) / 100 }

// Text is the estimate as the plan prints it: one line per item, the total, then the prices per GB.
func (e Estimate) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "estimated monthly cost of stack %s in %s (%s prices of %s, %s; %.0f hours a month):\n",
		e.Stack, e.Region, e.Currency, e.PricesTaken, infra.PricesFile, e.HoursPerMonth)
	for _, l := range e.Lines {
		per := "/" + l.Unit
		qty := fmt.Sprintf("%g", l.Quantity)
		if l.Unit == "month" && strings.Contains(l.Item, "volumes") {
			per, qty = "/GB-month", fmt.Sprintf("%g GiB", l.Quantity)
		}
		detail := ""
		if l.Detail != "" {
			detail = "  (" + l.Detail + ")"
		}
		if l.Missing != "" {
			fmt.Fprintf(&b, "  %-24s %s × ?: %s%s\n", l.Item, qty, l.Missing, detail)
			continue
		}
		fmt.Fprintf(&b, "  %-24s %s × $%g%s = $%.2f%s\n", l.Item, qty, l.UnitPrice, per, l.Monthly, detail)
	}
	total := "total"
	if e.Incomplete {
		total = "total of the priced lines"
	}
	fmt.Fprintf(&b, "  %-24s $%.2f a month\n", total, e.Monthly)
	if len(e.Usage) > 0 {
		b.WriteString("  by use, not in the total:\n")
		for _, u := range e.Usage {
			note := ""
			if u.Note != "" {
				note = " (" + u.Note + ")"
			}
			fmt.Fprintf(&b, "    %s: $%g per %s%s\n", u.Item, u.Price, u.Per, note)
		}
	}
	for _, w := range e.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	return b.String()
}

// Change is a pull request's effect on one stack's estimate.
type Change struct {
	Before, After Estimate
	HasBefore     bool // false when the base branch could not estimate (a new stack, or no estimator yet)
	Removed       bool // the change deletes the stack's file: After is empty
}

// Comment is the pull request comment for the stacks' changes: a callout first for each stack whose estimate
// rises by more than alertShare (0.1 is 10 %), then a table of before, after and difference.
func Comment(changes []Change, alertShare float64) string {
	var b strings.Builder
	b.WriteString("### Estimated monthly cost\n\n")
	for _, c := range changes {
		if c.Removed {
			continue
		}
		if missing := missingPrices(c); missing != "" {
			fmt.Fprintf(&b, "> [!WARNING]\n> **%s: the estimate is incomplete** (%s): its difference is unknown.\n\n", c.After.Stack, missing)
			continue
		}
		if !c.HasBefore || c.Before.Monthly <= 0 {
			continue
		}
		if rise := (c.After.Monthly - c.Before.Monthly) / c.Before.Monthly; rise > alertShare {
			fmt.Fprintf(&b, "> [!WARNING]\n> **%s: the estimate rises by %.0f %%** ($%.2f → $%.2f a month), more than the %.0f %% this repository calls out.\n\n",
				c.After.Stack, rise*100, c.Before.Monthly, c.After.Monthly, alertShare*100)
		}
	}
	b.WriteString("| stack | before | after | difference |\n|---|---:|---:|---:|\n")
	for _, c := range changes {
		after := money(c.After)
		if c.Removed {
			fmt.Fprintf(&b, "| %s | %s | (stack file removed) | %+.2f |\n", c.Before.Stack, money(c.Before), -c.Before.Monthly)
			continue
		}
		if !c.HasBefore {
			fmt.Fprintf(&b, "| %s | (no estimate) | %s | |\n", c.After.Stack, after)
			continue
		}
		if c.Before.Incomplete || c.After.Incomplete {
			fmt.Fprintf(&b, "| %s | %s | %s | n/a |\n", c.After.Stack, money(c.Before), after)
			continue
		}
		diff := c.After.Monthly - c.Before.Monthly
		share := ""
		if c.Before.Monthly > 0 {
			share = fmt.Sprintf(" (%+.0f %%)", diff/c.Before.Monthly*100)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %+.2f%s |\n", c.After.Stack, money(c.Before), after, diff, share)
	}
	for _, c := range changes {
		if lines := changedLines(c); lines != "" {
			fmt.Fprintf(&b, "\n<details><summary>%s: what changed</summary>\n\n%s</details>\n", c.After.Stack, lines)
		}
	}
	fmt.Fprintf(&b, "\nOn-demand list prices of %s (%s), before data transfer and usage priced per GB; from `make plan`.\n",
		latest(changes), infra.PricesFile)
	return b.String()
}

// missingPrices names the lines without a price, before or after, or "".
func missingPrices(c Change) string {
	var missing []string
	for _, e := range []Estimate{c.Before, c.After} {
		for _, l := range e.Lines {
			if l.Missing != "" && !slices.Contains(missing, l.Missing) {
				missing = append(missing, l.Missing)
			}
		}
	}
	return strings.Join(missing, "; ")
}

// price is a line's unit price, or "?" when it has none.
func price(l Line) string {
	if l.Missing != "" {
		return "?"
	}
	return fmt.Sprintf("$%g", l.UnitPrice)
}

func money(e Estimate) string {
	s := fmt.Sprintf("$%.2f", e.Monthly)
	if e.Incomplete {
		s += " (incomplete)"
	}
	return s
}

func latest(changes []Change) string {
	taken := ""
	for _, c := range changes {
		taken = max(taken, c.After.PricesTaken)
	}
	return taken
}

// changedLines lists the priced lines whose monthly figure or detail differs, as Markdown list items.
func changedLines(c Change) string {
	if !c.HasBefore || c.Removed {
		return ""
	}
	key := func(l Line) string { return l.Item + " " + l.Detail }
	before := map[string]Line{}
	for _, l := range c.Before.Lines {
		before[l.Item] = l
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, l := range c.After.Lines {
		seen[l.Item] = true
		old, ok := before[l.Item]
		switch {
		case !ok:
			fmt.Fprintf(&b, "- %s: new, $%.2f\n", l.Item, l.Monthly)
		case key(old) != key(l) || old.Monthly != l.Monthly || old.Quantity != l.Quantity:
			fmt.Fprintf(&b, "- %s: %g × %s → %g × %s, $%.2f → $%.2f\n", l.Item, old.Quantity, price(old), l.Quantity, price(l), old.Monthly, l.Monthly)
		}
	}
	for _, l := range c.Before.Lines {
		if !seen[l.Item] {
			fmt.Fprintf(&b, "- %s: removed, was $%.2f\n", l.Item, l.Monthly)
		}
	}
	return b.String()
}
