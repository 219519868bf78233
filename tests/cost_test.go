package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/cost"
)

// priceFile is infra/prices.json read by the test itself, so that the expected figures are worked out here from
// the data, not by the estimator.
type priceFile struct {
	Taken           string
	HoursPerMonth   float64
	EKSControlPlane struct{ StandardPerHour, ExtendedPerHour float64 }
	Regions         map[string]struct {
		InstancePerHour                                                                 map[string]float64
		GP3PerGBMonth, NATGatewayPerHour, NATGatewayPerGB, PublicIPv4PerHour            float64
		KMSKeyPerMonth, LogsIngestionPerGB, LogsStoragePerGBMonth, ECRStoragePerGBMonth float64
	}
}

func readPrices(t *testing.T) priceFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "infra", "prices.json"))
	require.NoError(t, err)
	var p priceFile
	require.NoError(t, json.Unmarshal(b, &p))
	return p
}

// calendarDay is the day the tests run the program on (TestMain).
func calendarDay(t *testing.T) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, infra.CalendarChecked)
	require.NoError(t, err)
	return d.Add(12 * time.Hour)
}

func estimateOf(t *testing.T, stack string, cfg stackConfig) cost.Estimate {
	t.Helper()
	r := runStack(t, stack, cfg).ok()
	return cost.Of(r.result, cfg.Values["aws:region"], infra.Prices, calendarDay(t))
}

func cents(v float64) float64 { return math.Round(v*100) / 100 }

// lineOf is the estimate's line for an item.
func lineOf(t *testing.T, e cost.Estimate, item string) cost.Line {
	t.Helper()
	for _, l := range e.Lines {
		if l.Item == item {
			return l
		}
	}
	require.Failf(t, "no line", "%s has no line %q: %+v", e.Stack, item, e.Lines)
	return cost.Line{}
}

// TestCost_devAndProdAsShippedLineByLine: the estimate of the template's stacks, each line against the figure
// worked out here from prices.json and the stack file's values: one control plane in standard support, a NAT
// gateway and its Elastic IP per zone in prod (one in dev), the desired nodes at their type's hourly price, their
// gp3 root volumes, four KMS keys; usage-priced items listed per GB, not in the total.
func TestCost_devAndProdAsShippedLineByLine(t *testing.T) {
	t.Parallel()
	p := readPrices(t)
	h := p.HoursPerMonth
	for _, tc := range []struct {
		stack         string
		nat           float64
		nodes         float64
		instance      string
		disk          float64
		logRetentions string
	}{
		{"dev", 1, 2, "t3.large", 50, "14"},
		{"prod", 3, 3, "m6i.large", 100, "365"},
	} {
		cfg := fixtureConfig(t, tc.stack)
		e := estimateOf(t, tc.stack, cfg)
		r := p.Regions["us-east-1"]
		require.Equal(t, "us-east-1", e.Region)
		want := map[string]float64{
			"EKS control plane":     cents(1 * p.EKSControlPlane.StandardPerHour * h),
			"NAT gateways":          cents(tc.nat * r.NATGatewayPerHour * h),
			"public IPv4 addresses": cents(tc.nat * r.PublicIPv4PerHour * h),
			"nodes":                 cents(tc.nodes * r.InstancePerHour[tc.instance] * h),
			"node root volumes":     cents(tc.nodes * tc.disk * r.GP3PerGBMonth),
			"KMS keys":              cents(4 * r.KMSKeyPerMonth),
		}
		total := 0.0
		for item, monthly := range want {
			assert.Equalf(t, monthly, lineOf(t, e, item).Monthly, "%s: %s", tc.stack, item)
			total += monthly
		}
		assert.Len(t, e.Lines, len(want), "%s: no other priced line", tc.stack)
		assert.Equal(t, cents(total), e.Monthly, tc.stack)
		assert.False(t, e.Incomplete)
		assert.Contains(t, lineOf(t, e, "nodes").Detail, tc.instance+" on-demand")
		assert.Contains(t, lineOf(t, e, "EKS control plane").Detail, "standard support")

		usage := map[string]float64{}
		for _, u := range e.Usage {
			usage[u.Item+" per "+u.Per] = u.Price
		}
		assert.Equal(t, map[string]float64{
			"NAT data processing per GB":           r.NATGatewayPerGB,
			"CloudWatch Logs ingestion per GB":     r.LogsIngestionPerGB,
			"CloudWatch Logs storage per GB-month": r.LogsStoragePerGBMonth,
			"ECR storage per GB-month":             r.ECRStoragePerGBMonth,
		}, usage, "%s: what depends on traffic is a price per GB, never guessed", tc.stack)
		text := e.Text()
		assert.Contains(t, text, "kept "+tc.logRetentions+" days")
		assert.Contains(t, text, "the lifecycle keeps "+cfg.Get("imageRetainCount")+" tagged images")
		assert.Contains(t, text, "prices of "+p.Taken)
	}
}

// TestCost_eachRegionOfTheREADMEIsPriced: the regions the README names (us-east-1, eu-west-1) price every item of
// the template's stacks in the price list.
func TestCost_eachRegionOfTheREADMEIsPriced(t *testing.T) {
	t.Parallel()
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		for _, stack := range []string{"dev", "prod"} {
			cfg := fixtureConfig(t, stack)
			cfg.Set("aws:region", region)
			e := estimateOf(t, stack, cfg)
			assert.Falsef(t, e.Incomplete, "%s in %s: %+v", stack, region, e.Lines)
		}
	}
}

// TestCost_extendedSupportMultipliesTheControlPlane: a version in extended support costs the extended hourly
// price, six times the standard one.
func TestCost_extendedSupportMultipliesTheControlPlane(t *testing.T) {
	t.Parallel()
	p := readPrices(t)
	var extended string
	for _, v := range infra.KubernetesVersions {
		if v.SupportOn(calendarDay(t)) == infra.SupportExtended {
			extended = v.Version
			break
		}
	}
	require.NotEmpty(t, extended, "the calendar lists a version in extended support")
	cfg := fixtureConfig(t, "dev")
	cfg.Set("kubernetesVersion", extended)
	e := estimateOf(t, "dev", cfg)
	cp := lineOf(t, e, "EKS control plane")
	assert.Equal(t, cents(p.EKSControlPlane.ExtendedPerHour*p.HoursPerMonth), cp.Monthly)
	assert.InDelta(t, 6.0, p.EKSControlPlane.ExtendedPerHour/p.EKSControlPlane.StandardPerHour, 1e-9)
	assert.Contains(t, cp.Detail, "Kubernetes "+extended+", extended support")
}

// TestCost_aMissingPriceIsReportedNotZero: an instance type or a region the price list lacks leaves its line
// without a price, says so, and marks the total as the priced lines only.
func TestCost_aMissingPriceIsReportedNotZero(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("nodeInstanceTypes", []string{"m7i.8xlarge"})
	e := estimateOf(t, "dev", cfg)
	nodes := lineOf(t, e, "nodes")
	assert.Equal(t, "no price for m7i.8xlarge in us-east-1", nodes.Missing)
	assert.Zero(t, nodes.Monthly)
	assert.True(t, e.Incomplete)
	assert.Contains(t, e.Text(), "nodes                    2 × ?: no price for m7i.8xlarge in us-east-1")
	assert.Contains(t, e.Text(), "total of the priced lines")

	cfg = fixtureConfig(t, "dev")
	cfg.Set("aws:region", "ap-south-1")
	e = estimateOf(t, "dev", cfg)
	assert.True(t, e.Incomplete)
	assert.Equal(t, "no prices for region ap-south-1 in infra/prices.json", lineOf(t, e, "NAT gateways").Missing)
	assert.Positive(t, lineOf(t, e, "EKS control plane").Monthly, "the control plane costs the same in every commercial region")
	assert.Empty(t, e.Usage, "no per-GB price is shown as $0")
	assert.Contains(t, strings.Join(e.Warnings, "\n"), "no prices for region ap-south-1 in infra/prices.json: only the EKS control plane is priced")
}

// TestCost_spotIsAnUpperBound: SPOT nodes are priced at on-demand, and the estimate says so.
func TestCost_spotIsAnUpperBound(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("nodeCapacityType", "SPOT")
	e := estimateOf(t, "dev", cfg)
	assert.Contains(t, lineOf(t, e, "nodes").Detail, "SPOT capacity, priced at on-demand as an upper bound")
	assert.Contains(t, strings.Join(e.Warnings, "\n"), "SPOT")
}

// TestCost_oldPricesAreSaidToBeOld: 180 days after the prices were taken, every estimate says so.
func TestCost_oldPricesAreSaidToBeOld(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	taken, err := time.Parse(time.DateOnly, infra.Prices.Taken)
	require.NoError(t, err)
	assert.Empty(t, cost.Of(r.result, "us-east-1", infra.Prices, taken.Add(179*24*time.Hour)).Warnings)
	w := cost.Of(r.result, "us-east-1", infra.Prices, taken.Add(181*24*time.Hour)).Warnings
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "the prices in infra/prices.json were taken on "+infra.Prices.Taken+", more than 180 days ago")
}

// TestCost_pullRequestCommentForANodeCountChange: doubling dev's nodes shows before, after and the difference,
// and, above the alert share, a callout at the top; the figures are worked out here from prices.json.
func TestCost_pullRequestCommentForANodeCountChange(t *testing.T) {
	t.Parallel()
	p := readPrices(t)
	r := p.Regions["us-east-1"]
	h := p.HoursPerMonth
	before := estimateOf(t, "dev", fixtureConfig(t, "dev"))
	cfg := fixtureConfig(t, "dev")
	cfg.Set("nodeMinSize", 4)
	cfg.Set("nodeDesiredSize", 4)
	cfg.Set("nodeMaxSize", 6)
	after := estimateOf(t, "dev", cfg)
	want := cents(before.Monthly + cents(2*r.InstancePerHour["t3.large"]*h) + cents(2*50*r.GP3PerGBMonth))
	require.Equal(t, want, after.Monthly)
	rise := (after.Monthly - before.Monthly) / before.Monthly

	comment := cost.Comment([]cost.Change{{Before: before, After: after, HasBefore: true}}, 0.1)
	assert.True(t, strings.HasPrefix(comment, "### Estimated monthly cost\n\n> [!WARNING]\n> **dev: the estimate rises by "+
		strconv.Itoa(int(math.Round(rise*100)))+" %**"), comment)
	assert.Contains(t, comment, "| dev | $"+strconv.FormatFloat(before.Monthly, 'f', 2, 64)+" | $"+
		strconv.FormatFloat(after.Monthly, 'f', 2, 64)+" | +"+strconv.FormatFloat(after.Monthly-before.Monthly, 'f', 2, 64))
	assert.Regexp(t, regexp.MustCompile(`- nodes: 2 × \$0\.0832 → 4 × \$0\.0832`), comment)

	quiet := cost.Comment([]cost.Change{{Before: before, After: after, HasBefore: true}}, rise+0.01)
	assert.NotContains(t, quiet, "[!WARNING]", "below the alert share, no callout")
	// A change to a type the price list lacks is no saving: the difference is unknown, and said first.
	cfg = fixtureConfig(t, "dev")
	cfg.Set("nodeInstanceTypes", []string{"m7i.8xlarge"})
	unpriced := estimateOf(t, "dev", cfg)
	comment = cost.Comment([]cost.Change{{Before: before, After: unpriced, HasBefore: true}}, 0.1)
	assert.True(t, strings.HasPrefix(comment, "### Estimated monthly cost\n\n> [!WARNING]\n> **dev: the estimate is incomplete** "+
		"(no price for m7i.8xlarge in us-east-1): its difference is unknown."), comment)
	assert.Contains(t, comment, " | n/a |")
	assert.NotContains(t, comment, "-121", "no false saving")
	assert.Contains(t, comment, "- nodes: 2 × $0.0832 → 2 × ?")

	fresh := cost.Comment([]cost.Change{{After: after}}, 0.1)
	assert.Contains(t, fresh, "| dev | (no estimate) | $"+strconv.FormatFloat(after.Monthly, 'f', 2, 64)+" |")
}

// TestCost_READMEFiguresAreTheEstimates: the README's cost section gives the estimator's totals for the template's
// dev and prod.
func TestCost_READMEFiguresAreTheEstimates(t *testing.T) {
	t.Parallel()
	doc := readme(t)
	for _, stack := range []string{"dev", "prod"} {
		e := estimateOf(t, stack, fixtureConfig(t, stack))
		nat := lineOf(t, e, "NAT gateways").Quantity
		gateways := fmt.Sprintf("%g NAT gateway with its IPv4 address", nat)
		if nat > 1 {
			gateways = fmt.Sprintf("%g NAT gateways with their addresses", nat)
		}
		nodes := lineOf(t, e, "nodes")
		row := fmt.Sprintf("| %s | $%.2f | control plane $%.0f, %s, %g × %s, %g GiB gp3, %g KMS keys |", stack, e.Monthly,
			lineOf(t, e, "EKS control plane").Monthly, gateways, nodes.Quantity, strings.Fields(nodes.Detail)[0],
			lineOf(t, e, "node root volumes").Quantity, lineOf(t, e, "KMS keys").Quantity)
		assert.Containsf(t, doc, row, "README's cost of %s", stack)
	}
}

// TestPricesFile_isCompleteAndDated: the price list parses, names its sources, and every region prices every item
// and the template's instance types.
func TestPricesFile_isCompleteAndDated(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "infra", "prices.json"))
	require.NoError(t, err)
	p, err := infra.ParsePrices(b)
	require.NoError(t, err)
	for _, s := range []string{"eks", "ec2", "ebs", "vpc", "kms", "logs", "ecr"} {
		assert.Regexp(t, `^https://aws\.amazon\.com/`, p.Sources[s], s)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		for _, typ := range []string{"t3.large", "m6i.large"} {
			assert.Positivef(t, p.Regions[region].InstancePerHour[typ], "%s %s", region, typ)
		}
	}
	_, err = infra.ParsePrices([]byte(`{"taken":"2026-12-04","hoursPerMonth":730,"eksControlPlane":{"standardPerHour":0.1,"extendedPerHour":0.6},"regions":{"us-east-1":{"gp3PerGBMonth":0.08}}}`))
	assert.ErrorContains(t, err, "us-east-1: ", "a region without a price for an item is refused")
}

// TestRefreshPrices_writesAPriceListTheProgramReads: tools/refresh-prices against a stand-in `aws` that answers
// `aws pricing get-products` as the Price List Query API does (GetProducts: PriceList holds JSON documents as
// strings, product.attributes and terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD; TERM_MATCH filters keep
// the products whose attribute equals the value; https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html).
// Its products carry the usage types AWS bills under, a distinct price each, beside the neighbours a query must
// not pick (Windows, IOPS, idle addresses, requests, Infrequent Access and vended logs, archive storage). The script
// writes every price into its own field, the extended-support total as the standard price plus its extra charge,
// for every region and instance type the file held, dated today. Which attributes AWS really gives each product
// only AWS can show (docs/cost.md).
func TestRefreshPrices_writesAPriceListTheProgramReads(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"jq", "shellcheck"} {
		_, err := exec.LookPath(tool)
		require.NoErrorf(t, err, "%s is required (`make system` installs it)", tool)
	}
	script := filepath.Join(repoRoot(t), "tools", "refresh-prices")
	out, err := exec.Command("shellcheck", script).CombinedOutput()
	require.NoError(t, err, string(out))

	dir := t.TempDir()
	for _, d := range []string{"tools", "infra", "bin", "products"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	copyTo := func(from, to string, mode os.FileMode) {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(to, b, mode))
	}
	copyTo(script, filepath.Join(dir, "tools", "refresh-prices"), 0o755)
	// The price list to refresh: the real one, its regions with two instance types each (every query spawns jq).
	input := infra.Prices
	input.Regions = map[string]infra.RegionPrices{}
	for region, r := range infra.Prices.Regions {
		r.InstancePerHour = map[string]float64{"t3.large": 1, "m6i.large": 1}
		input.Regions[region] = r
	}
	b, err := json.MarshalIndent(input, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "infra", "prices.json"), b, 0o644))

	// The products, by service; the price of each field is distinct, so a swap shows.
	products := map[string][]map[string]any{}
	next := 0.0
	want := map[string]float64{} // "<region> <field>" -> price
	add := func(service, region, usage string, attrs map[string]string, field string) {
		next += 0.01
		a := map[string]any{"regionCode": region, "usagetype": usage}
		for k, v := range attrs {
			a[k] = v
		}
		products[service] = append(products[service], map[string]any{"product": map[string]any{"attributes": a},
			"terms": map[string]any{"OnDemand": map[string]any{"T": map[string]any{"priceDimensions": map[string]any{
				"D": map[string]any{"pricePerUnit": map[string]any{"USD": strconv.FormatFloat(next, 'f', 4, 64)}}}}}}})
		if field != "" {
			want[region+" "+field] = math.Round(next*10000) / 10000
		}
	}
	add("AmazonEKS", "us-east-1", "USE1-AmazonEKS-Hours:perCluster", nil, "standard")
	add("AmazonEKS", "us-east-1", "USE1-AmazonEKS-Hours:extendedSupport", nil, "extra")
	for region := range input.Regions {
		prefix := map[string]string{"us-east-1": ""}[region]
		if region != "us-east-1" {
			prefix = "EU-"
		}
		linux := map[string]string{"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
			"capacitystatus": "Used", "licenseModel": "No License required", "marketoption": "OnDemand"}
		for typ := range input.Regions[region].InstancePerHour {
			attrs := map[string]string{"instanceType": typ}
			for k, v := range linux {
				attrs[k] = v
			}
			add("AmazonEC2", region, prefix+"BoxUsage:"+typ, attrs, "instance "+typ)
			windows := map[string]string{}
			for k, v := range attrs {
				windows[k] = v
			}
			windows["operatingSystem"] = "Windows"
			add("AmazonEC2", region, prefix+"BoxUsage:"+typ, windows, "")
		}
		add("AmazonEC2", region, prefix+"EBS:VolumeUsage.gp3", map[string]string{"volumeApiName": "gp3"}, "gp3")
		add("AmazonEC2", region, prefix+"EBS:VolumeP-IOPS.gp3", map[string]string{"volumeApiName": "gp3"}, "")
		add("AmazonEC2", region, prefix+"NatGateway-Hours", map[string]string{"productFamily": "NAT Gateway"}, "nat")
		add("AmazonEC2", region, prefix+"NatGateway-Bytes", map[string]string{"productFamily": "NAT Gateway"}, "natgb")
		add("AmazonVPC", region, prefix+"PublicIPv4:InUseAddress", map[string]string{"group": "VPCPublicIPv4Address"}, "ip")
		add("AmazonVPC", region, prefix+"PublicIPv4:IdleAddress", map[string]string{"group": "VPCPublicIPv4Address"}, "")
		add("awskms", region, prefix+"KMS-Keys", nil, "kms")
		add("awskms", region, prefix+"KMS-Requests", nil, "")
		cw := map[string]string{"us-east-1": "USE1-"}[region]
		if cw == "" {
			cw = "EU-"
		}
		add("AmazonCloudWatch", region, cw+"DataProcessing-Bytes", nil, "ingest")
		add("AmazonCloudWatch", region, cw+"VendedLog-Bytes", nil, "")
		add("AmazonCloudWatch", region, cw+"TimedStorage-ByteHrs", nil, "store")
		add("AmazonCloudWatch", region, cw+"IA-TimedStorage-ByteHrs", nil, "")
		add("AmazonECR", region, cw+"TimedStorage-ByteHrs", nil, "ecr")
		add("AmazonECR", region, cw+"Archive-TimedStorage-ByteHrs", nil, "")
	}
	for service, list := range products {
		b, err := json.Marshal(list)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "products", service+".json"), b, 0o644))
	}
	// The stand-in: the service's products, kept by every TERM_MATCH filter, as GetProducts returns them.
	fake := `#!/usr/bin/env bash
set -euo pipefail
[ "$1 $2" = "pricing get-products" ] || exit 2
shift 2
service="" filters=""
while [ $# -gt 0 ]; do
  case $1 in
    --service-code) service=$2; shift 2 ;;
    --filters) shift
      while [ $# -gt 0 ] && [ "${1#Type=}" != "$1" ]; do
        spec=${1#Type=TERM_MATCH,Field=}; field=${spec%%,Value=*}; value=${spec#*,Value=}
        filters="$filters,[\"$field\",\"$value\"]"; shift
      done ;;
    *) shift ;;
  esac
done
jq -c --argjson filters "[${filters#,}]" '{FormatVersion: "aws_v1",
  PriceList: [.[] | . as $p | select(all($filters[]; $p.product.attributes[.[0]] == .[1])) | tojson]}'   "$(dirname "$0")/../products/$service.json"
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "aws"), []byte(fake), 0o755))
	git := exec.Command("bash", "-c", "git init -q && git add -A && git -c user.name=t -c user.email=t@example.com commit -qm base")
	git.Dir = dir
	out, err = git.CombinedOutput()
	require.NoError(t, err, string(out))

	refresh := func() ([]byte, error) {
		cmd := exec.Command(filepath.Join(dir, "tools", "refresh-prices"))
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		return cmd.CombinedOutput()
	}
	out, err = refresh()
	require.NoError(t, err, string(out))
	b, err = os.ReadFile(filepath.Join(dir, "infra", "prices.json"))
	require.NoError(t, err)
	p, err := infra.ParsePrices(b)
	require.NoError(t, err)
	assert.Equal(t, time.Now().UTC().Format(time.DateOnly), p.Taken)
	assert.Equal(t, want["us-east-1 standard"], p.EKSControlPlane.StandardPerHour)
	assert.InDelta(t, want["us-east-1 standard"]+want["us-east-1 extra"], p.EKSControlPlane.ExtendedPerHour, 1e-9,
		"extended support is the standard price plus its extra charge")
	require.Len(t, p.Regions, len(input.Regions))
	for region, r := range p.Regions {
		require.Len(t, r.InstancePerHour, len(input.Regions[region].InstancePerHour), region)
		for typ, v := range r.InstancePerHour {
			assert.Equal(t, want[region+" instance "+typ], v, region+" "+typ)
		}
		for field, v := range map[string]float64{"gp3": r.GP3PerGBMonth, "nat": r.NATGatewayPerHour, "natgb": r.NATGatewayPerGB,
			"ip": r.PublicIPv4PerHour, "kms": r.KMSKeyPerMonth, "ingest": r.LogsIngestionPerGB, "store": r.LogsStoragePerGBMonth,
			"ecr": r.ECRStoragePerGBMonth} {
			assert.Equal(t, want[region+" "+field], v, region+" "+field)
		}
	}
	assert.Equal(t, infra.Prices.Sources, p.Sources, "the sources stay")

	// Two products for one query stop the script, naming it.
	products["awskms"] = append(products["awskms"], products["awskms"][0])
	b, err = json.Marshal(products["awskms"])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "products", "awskms.json"), b, 0o644))
	out, err = refresh()
	require.Error(t, err)
	assert.Contains(t, string(out), "2 products match, expected 1")
}
