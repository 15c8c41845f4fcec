package emulator

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func stsClient(url, keyID, secret string) *sts.Client {
	return sts.New(sts.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
	})
}

// The real SDK learns the account of its keys from the emulator, as from
// AWS; bad keys get STS's own error codes.
func TestSTSGetCallerIdentity(t *testing.T) {
	ctx := context.Background()
	e, err := New(Config{VerifySigV4: true, Keys: map[string]Key{"AKIDGOOD": {Secret: "s3cret", Account: "111122223333"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	out, err := stsClient(srv.URL, "AKIDGOOD", "s3cret").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "111122223333" || aws.ToString(out.Arn) != "arn:aws:iam::111122223333:user/emulated" || aws.ToString(out.UserId) == "" {
		t.Fatalf("identity: %s %s %s", aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId))
	}
	for key, code := range map[string]string{"AKIDOTHER": "InvalidClientTokenId", "AKIDGOOD": "SignatureDoesNotMatch"} {
		_, err := stsClient(srv.URL, key, "wrong").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code {
			t.Errorf("key %s with a wrong secret: %v, want %s", key, err, code)
		}
	}

	// Without verification every unknown key is the default account.
	open, _ := New(Config{})
	srv2 := httptest.NewServer(open)
	defer srv2.Close()
	out, err = stsClient(srv2.URL, "AKIDANY", "x").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != DefaultAccount {
		t.Fatalf("default account: %v %v", out, err)
	}
}
